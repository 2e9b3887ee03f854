import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
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
    if (text.length > MAX_CONFIG_CHARS) throw new ConfigError(source, [`larger than ${MAX_CONFIG_CHARS} characters: not a configuration file`]);
    document = parseBoundedYaml(source, text) ?? {};
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
  const checked = (options.check?.(document) ?? []).map(redactUrlPasswords);
  if (checked.length > 0) throw new ConfigError(source, checked);
  return document as T;
}

/** Longest configuration file read; configurations are a few KB. */
export const MAX_CONFIG_CHARS = 1024 * 1024;
/** Aliases (`*name`) one file may use: enough for sharing a few blocks, too few for a "billion laughs" bomb. */
export const MAX_CONFIG_ALIASES = 100;
/** Values the parsed document may hold after aliases are expanded. */
const MAX_CONFIG_NODES = 100_000;

/** YAML with aliases and size bounded: a hostile or broken file gets a ConfigError, never an uncaught error or an exhausted heap. */
function parseBoundedYaml(source: string, text: string): unknown {
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: MAX_CONFIG_ALIASES, uniqueKeys: true });
  } catch (error) {
    if (error instanceof YAMLParseError) throw new ConfigError(source, [`not valid YAML: ${error.message.split('\n')[0]}`]);
    if (error instanceof ReferenceError && /alias/i.test(error.message)) throw new ConfigError(source, [`not accepted: its YAML aliases expand too far (more than ${MAX_CONFIG_ALIASES} alias uses, or aliases of aliases): write the values out`]);
    throw new ConfigError(source, [`not valid YAML: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`]);
  }
  if (countNodes(document, MAX_CONFIG_NODES) > MAX_CONFIG_NODES) throw new ConfigError(source, [`not accepted: more than ${MAX_CONFIG_NODES} values once its aliases are expanded`]);
  return document;
}

/** Values in a parsed document, counting stops past `limit` (shared objects count at each use, as aliases expand). */
function countNodes(value: unknown, limit: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= limit) {
    const next = stack.pop();
    count += 1;
    if (Array.isArray(next)) stack.push(...next);
    else if (typeof next === 'object' && next !== null) stack.push(...Object.values(next));
  }
  return count;
}

/** Keys whose values are secrets: never echoed in a message, never printed. */
const SECRET_KEY = /(password|passphrase|secret|tokens?|credentials?)$/i;
export const REDACTED = '(redacted)';

/** A URL's password (`scheme://user:password@host`) replaced, wherever one appears in the text. */
export function redactUrlPasswords(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi, `$1${REDACTED}@`);
}

/**
 * A copy of a configuration (or any value of one) fit to print or log: the values of secret keys
 * (password, token, secret, ...) and URL passwords replaced. `key`: the key the value sits under.
 */
export function redactSecrets(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return SECRET_KEY.test(key) ? REDACTED : redactUrlPasswords(value);
  if (SECRET_KEY.test(key) && value !== null && value !== undefined && typeof value !== 'object') return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, key));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(key) && v !== null ? REDACTED : redactSecrets(v, k)]));
  return value;
}

/** A value as an error message shows it (JSON), with secrets left out. */
function shown(path: string, value: unknown): string {
  const key = path.split(/[.[\]]/).filter((part) => part !== '' && !/^\d+$/.test(part)).pop() ?? '';
  return JSON.stringify(redactSecrets(value, key));
}

/** What a listen host may be: an IP address or a host name (letters, digits, dashes and dots). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** null when `host` can be listened on by name; otherwise the problem, naming `key`. */
export function listenHostProblem(key: string, host: string): string | null {
  if (isIP(host) !== 0 || HOST_NAME.test(host)) return null;
  return `${key}: ${JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}...` : host)} is not an IP address or a host name`;
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
      return `${path || '(top level)'}: must be ${String(error.params['type'])}, got ${shown(path, error.data)}`;
    case 'enum':
      return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${shown(path, error.data)}`;
    default:
      return `${path || '(top level)'}: ${error.message ?? error.keyword}${error.data !== undefined && typeof error.data !== 'object' ? ` (got ${shown(path, error.data)})` : ''}`;
  }
}

/** A key as an environment variable can spell it: no `_` or `-` (`DIRECT_CONNECT` is `direct-connect`), any case. */
function normalise(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
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
