import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';

/** A configuration that cannot be used; the message lists every problem, each naming its key. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  }
}

/** The subset of JSON Schema the loaders use: objects, arrays and scalars with defaults. */
export interface ConfigSchema {
  type?: string | string[];
  properties?: Record<string, ConfigSchema>;
  items?: ConfigSchema;
  required?: string[];
  additionalProperties?: boolean;
  default?: unknown;
  description?: string;
  [keyword: string]: unknown;
}

export interface LoadConfigOptions {
  /** The YAML file; undefined means defaults plus environment only. */
  path: string | undefined;
  schema: ConfigSchema;
  /**
   * Environment variables starting with this prefix override keys: nested keys are joined
   * with `__`, case and single underscores are ignored, values are read as YAML scalars.
   * `P2PWALL_SENSOR_QUEUE__CONNBYTES=8` sets `queue.connbytes`.
   */
  envPrefix: string;
  env?: NodeJS.ProcessEnv;
  /** Checks beyond the schema (CIDR syntax, cross-field rules): each problem names its key. */
  check?: (config: unknown) => string[];
}

/**
 * Reads YAML, applies environment overrides, fills defaults and validates against the schema,
 * rejecting unknown keys and wrong types with messages that name the key. Returns nothing
 * half-configured: any problem throws a ConfigError listing all of them.
 */
export function loadConfig<T>(options: LoadConfigOptions): T {
  const source = options.path ?? 'configuration';
  let document: unknown = {};
  if (options.path !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ConfigError(source, [code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(error)})`]);
    }
    try {
      document = parseYaml(text) ?? {};
    } catch (error) {
      if (error instanceof YAMLParseError) throw new ConfigError(source, [`not valid YAML: ${error.message.split('\n')[0]}`]);
      throw error;
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      throw new ConfigError(source, ['the file must hold a mapping of keys (key: value), not a single value or a list']);
    }
  }

  const problems: string[] = [];
  applyEnvironment(document as Record<string, unknown>, options, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);

  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
  const validate = ajv.compile(options.schema);
  if (!validate(document)) {
    throw new ConfigError(source, (validate.errors ?? []).map(describeError));
  }
  const checked = options.check?.(document) ?? [];
  if (checked.length > 0) throw new ConfigError(source, checked);
  return document as T;
}

function keyPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
}

function describeError(error: ErrorObject): string {
  const path = keyPath(error.instancePath);
  const at = (key: string) => (path ? `${path}.${key}` : key);
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at(String(error.params['additionalProperty']))}: unknown key`;
    case 'required':
      return `${at(String(error.params['missingProperty']))}: required`;
    case 'type':
      return `${path || '(top level)'}: must be ${String(error.params['type'])}, got ${JSON.stringify(error.data)}`;
    case 'enum':
      return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(error.data)}`;
    default:
      return `${path || '(top level)'}: ${error.message ?? error.keyword}${error.data !== undefined && typeof error.data !== 'object' ? ` (got ${JSON.stringify(error.data)})` : ''}`;
  }
}

function normalise(name: string): string {
  return name.replace(/_/g, '').toLowerCase();
}

function applyEnvironment(document: Record<string, unknown>, options: LoadConfigOptions, problems: string[]): void {
  const env = options.env ?? process.env;
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(options.envPrefix) || raw === undefined) continue;
    const segments = name.slice(options.envPrefix.length).split('__');
    let schema: ConfigSchema | undefined = options.schema;
    let target: Record<string, unknown> = document;
    const keys: string[] = [];
    for (const [index, segment] of segments.entries()) {
      const key: string | undefined = Object.keys(schema?.properties ?? {}).find((candidate) => normalise(candidate) === normalise(segment));
      if (key === undefined || schema === undefined) {
        problems.push(`${name}: no configuration key ${[...keys, segment.toLowerCase()].join('.')}`);
        break;
      }
      keys.push(key);
      schema = schema.properties?.[key];
      if (index === segments.length - 1) {
        target[key] = parseEnvValue(raw, schema);
      } else {
        const next = target[key];
        if (typeof next !== 'object' || next === null || Array.isArray(next)) target[key] = {};
        target = target[key] as Record<string, unknown>;
      }
    }
  }
}

/**
 * A key that holds text takes the variable as it is: secrets arrive this way (Kubernetes
 * secretKeyRef), and read as YAML a password such as `s3cret #1` loses its tail to a comment and
 * `12345` turns into a number. A nullable text key still reads `null`, `~` or nothing as null.
 * Other keys read YAML, so numbers, booleans and lists (`[0, 1]`) work.
 */
function parseEnvValue(raw: string, schema: ConfigSchema | undefined): unknown {
  const types = schema?.type === undefined ? [] : [schema.type].flat();
  if (types.includes('string') && types.every((type) => type === 'string' || type === 'null')) {
    return types.includes('null') && ['', 'null', '~'].includes(raw) ? null : raw;
  }
  try {
    return parseYaml(raw);
  } catch {
    return raw;
  }
}
