/**
 * The DNS module's options (`detectors.dns.*` in sensor.yaml): their JSON schema for the config
 * loader and the chart, and the checks a schema cannot make. `readDnsOptions` also guards the
 * options when they come from anywhere else (tests, tools), since a module is configured by them.
 */
import { isProtocolName, type ConfigSchema, type Transport } from '@p2pwall/common';
import { CidrError, CidrSet, parseCidr } from '../../decode/cidr.js';
import { DEFAULT_NAMES } from './defaults.js';
import { NameEvidence, NamePatterns, namePatternProblem, normalName, type LearnEndpoint, type NameRule } from './names.js';
import { DNS } from './rules.js';

/** Bounds on what an operator lists: each answer's addresses × endpoints are learned. */
export const MAX_NAMES = 1000;
export const MAX_LEARN_PER_NAME = 8;
export const MIN_LEARN_PORT = 1024;

const port: ConfigSchema = {
  type: 'integer',
  minimum: MIN_LEARN_PORT,
  maximum: 65535,
  description: 'port learned on every address of the answer (the engine refuses learned peers below 1024, so a tracker on 80/443 cannot be learned)',
};

export const DNS_OPTIONS_SCHEMA: Readonly<Record<string, ConfigSchema>> = {
  names: {
    type: 'array',
    default: [],
    maxItems: MAX_NAMES,
    description: 'names to watch beside the shipped defaults: an inside host asking for one is evidence of `protocol`, and the addresses in the answer are learned on the `learn` endpoints; an entry for a default name replaces it',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'protocol'],
      properties: {
        name: { type: 'string', description: 'host name, or *.domain for every name below domain; case and a trailing dot do not matter' },
        protocol: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,47}$', description: 'the P2P family asking for it shows (bittorrent, soulseek, edonkey, …)' },
        evidence: {
          enum: [NameEvidence.identifying, NameEvidence.supporting],
          default: NameEvidence.supporting,
          description: 'identifying: only that family\'s clients ask for it, the asking host is identified and time-locked; supporting (default): a browser may ask too, the query is only counted',
        },
        learn: {
          type: 'array',
          default: [],
          maxItems: MAX_LEARN_PER_NAME,
          description: 'endpoints learned as peers for every address in the answer (a DNS answer has no port)',
          items: { type: 'object', additionalProperties: false, required: ['port'], properties: { transport: { enum: ['tcp', 'udp', 'both'], default: 'udp' }, port } },
        },
      },
    },
  },
  defaults: { type: 'boolean', default: true, description: 'watch the shipped names (DHT routers, public trackers, Soulseek\'s server, eMule server lists); false: only `names`' },
  disableDefaults: { type: 'array', items: { type: 'string' }, default: [], maxItems: MAX_NAMES, description: 'shipped names not to watch' },
  resolvers: {
    type: 'array',
    items: { type: 'string' },
    default: [],
    maxItems: 1000,
    description: 'inside addresses or networks (CIDR) of the organisation\'s own resolvers: their queries, made for others, never identify or lock them; what their answers name is still learned. List every forwarding resolver (a host resolving iteratively, without the RD bit, is taken for one anyway)',
  },
};

/** The options, read and checked. */
export interface DnsOptions {
  readonly rules: readonly NameRule[];
  readonly resolvers: CidrSet;
}

/** The options in `raw` (defaults for what is absent), and what is wrong with them. */
export function readDnsOptions(raw: Readonly<Record<string, unknown>>): { options: DnsOptions; problems: string[] } {
  const problems: string[] = [];
  const names = listOf(raw.names, 'names', problems);
  const disabled = listOf(raw.disableDefaults, 'disableDefaults', problems);
  const resolverTexts = listOf(raw.resolvers, 'resolvers', problems);
  const useDefaults = raw.defaults ?? true;
  if (typeof useDefaults !== 'boolean') problems.push('defaults: must be true or false');

  const own: NameRule[] = [];
  const seen = new Set<string>();
  names.slice(0, MAX_NAMES).forEach((entry, index) => {
    const rule = readNameRule(entry, `names[${index}]`, problems);
    if (rule === null) return;
    const key = normalName(rule.name);
    if (seen.has(key)) problems.push(`names[${index}].name: "${rule.name}" is listed twice`);
    seen.add(key);
    own.push(rule);
  });
  if (names.length > MAX_NAMES) problems.push(`names: at most ${MAX_NAMES} entries`);

  const defaultNames = new Set(DEFAULT_NAMES.map((rule) => rule.name));
  const off = new Set<string>();
  disabled.forEach((name, index) => {
    const key = typeof name === 'string' ? normalName(name) : '';
    if (!defaultNames.has(key)) problems.push(`disableDefaults[${index}]: ${JSON.stringify(name)} is not a shipped name (shipped: ${[...defaultNames].join(', ')})`);
    off.add(key);
  });

  const cidrs: string[] = [];
  resolverTexts.forEach((text, index) => {
    if (typeof text !== 'string') return problems.push(`resolvers[${index}]: must be an address or a network (CIDR)`);
    try {
      parseCidr(text);
      cidrs.push(text);
    } catch (error) {
      if (!(error instanceof CidrError)) throw error;
      problems.push(`resolvers[${index}]: ${error.message}`);
    }
    return undefined;
  });

  const shipped = useDefaults === false ? [] : DEFAULT_NAMES.filter((rule) => !off.has(rule.name));
  // The operator's entry for a shipped name replaces it (NamePatterns: the later one wins).
  return { options: { rules: [...shipped, ...own], resolvers: new CidrSet(cidrs) }, problems };
}

/** The compiled patterns of the options. */
export function namePatterns(options: DnsOptions): NamePatterns {
  return new NamePatterns(options.rules);
}

function listOf(value: unknown, key: string, problems: string[]): readonly unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  problems.push(`${key}: must be a list`);
  return [];
}

function readNameRule(entry: unknown, where: string, problems: string[]): NameRule | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${where}: must be { name, protocol, evidence, learn }`);
    return null;
  }
  const { name, protocol, evidence = NameEvidence.supporting, learn = [], ...rest } = entry as Record<string, unknown>;
  const before = problems.length;
  for (const key of Object.keys(rest)) problems.push(`${where}.${key}: unknown key (known: name, protocol, evidence, learn)`);
  const nameProblem = typeof name === 'string' ? namePatternProblem(name) : 'must be a host name';
  if (nameProblem !== null) problems.push(`${where}.name: ${nameProblem}`);
  if (typeof protocol !== 'string' || !isProtocolName(protocol)) problems.push(`${where}.protocol: must be a protocol name (lower-case letters, digits and dashes), got ${JSON.stringify(protocol)}`);
  else if (protocol === DNS) problems.push(`${where}.protocol: name the family the query shows (bittorrent, soulseek, …), not dns`);
  if (evidence !== NameEvidence.identifying && evidence !== NameEvidence.supporting) problems.push(`${where}.evidence: must be identifying or supporting, got ${JSON.stringify(evidence)}`);
  const endpoints: LearnEndpoint[] = [];
  if (!Array.isArray(learn)) problems.push(`${where}.learn: must be a list of { transport, port }`);
  else {
    if (learn.length > MAX_LEARN_PER_NAME) problems.push(`${where}.learn: at most ${MAX_LEARN_PER_NAME} endpoints`);
    learn.forEach((item: unknown, index) => {
      const at = `${where}.learn[${index}]`;
      const { transport = 'udp', port: value } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      if (transport !== 'tcp' && transport !== 'udp' && transport !== 'both') problems.push(`${at}.transport: must be tcp, udp or both, got ${JSON.stringify(transport)}`);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_LEARN_PORT || value > 65535) {
        problems.push(`${at}.port: must be a whole number from ${MIN_LEARN_PORT} to 65535 (the engine never learns a peer below 1024), got ${JSON.stringify(value)}`);
      } else endpoints.push({ transport: transport as Transport, port: value });
    });
  }
  if (problems.length > before) return null;
  return { name: name as string, protocol: protocol as string, evidence: evidence as NameEvidence, learn: endpoints };
}
