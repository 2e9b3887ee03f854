import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConfigSchema } from '@p2pwall/common';
import { NOTIFICATION_KINDS, type NotificationKind } from './events.js';

/**
 * brain.yaml `notifications`: a list of sinks, none by default (nothing is sent). Each sink names
 * the events it wants and is rate-limited and de-duplicated on its own; HTTP sinks (webhook,
 * slack, teams) and syslog sinks share one bounded retry queue design (queue.ts).
 */

export type SinkType = 'webhook' | 'slack' | 'teams' | 'syslog';
export type SyslogTransport = 'udp' | 'tcp' | 'tls';
export type SyslogFormat = 'rfc5424' | 'cef';

export interface SinkConfig {
  name: string;
  type: SinkType;
  events: NotificationKind[];
  /** webhook, slack, teams: where to POST. */
  url: string | null;
  /** A file whose first line is the URL (Slack and Teams URLs carry their token): instead of url. */
  urlFile: string | null;
  /** HMAC-SHA256 key of the signature header (either this or secretFile; none: unsigned). */
  secret: string | null;
  secretFile: string | null;
  timeoutSeconds: number;
  syslog: {
    transport: SyslogTransport;
    host: string | null;
    port: number;
    format: SyslogFormat;
    facility: number;
    appName: string;
    /** Longest message sent (bytes); a longer one is cut. */
    maxMessageBytes: number;
    tls: { ca: string | null; cert: string | null; key: string | null; rejectUnauthorized: boolean };
  };
  queue: { maxEvents: number; firstRetrySeconds: number; maxRetrySeconds: number; maxAgeSeconds: number };
  rateLimit: { perMinute: number; burst: number };
  dedupSeconds: number;
}

export interface NotificationsConfig {
  sinks: SinkConfig[];
}

const int = (minimum: number, maximum: number, value: number, description: string): ConfigSchema => ({ type: 'integer', minimum, maximum, default: value, description });
const num = (minimum: number, maximum: number, value: number, description: string): ConfigSchema => ({ type: 'number', minimum, maximum, default: value, description });
const strOrNull = (description: string): ConfigSchema => ({ type: ['string', 'null'], default: null, description });
const obj = (properties: Record<string, ConfigSchema>, extra: Partial<ConfigSchema> = {}): ConfigSchema => ({ type: 'object', additionalProperties: false, default: {}, properties, ...extra });

const SINK_SCHEMA: ConfigSchema = obj(
  {
    name: { type: 'string', description: 'the sink\'s name in logs and metrics (lower-case letters, digits, dashes)' },
    type: { enum: ['webhook', 'slack', 'teams', 'syslog'], description: 'webhook: generic JSON POST; slack, teams: their incoming-webhook payloads; syslog: RFC 5424 to a SIEM' },
    events: { type: 'array', items: { enum: [...NOTIFICATION_KINDS] }, uniqueItems: true, default: [...NOTIFICATION_KINDS], description: 'which events this sink gets' },
    url: strOrNull('webhook, slack, teams: the URL to POST to (http or https)'),
    urlFile: strOrNull('a file whose first line is the URL (a mounted secret: Slack and Teams webhook URLs carry their token); instead of url'),
    secret: strOrNull('HMAC-SHA256 key: each POST carries X-P2pwall-Signature over its timestamp and body'),
    secretFile: strOrNull('a file holding the HMAC key (a mounted secret); instead of secret'),
    timeoutSeconds: num(0.1, 120, 5, 'one delivery attempt must finish within this long'),
    syslog: obj({
      transport: { enum: ['udp', 'tcp', 'tls'], default: 'udp', description: 'udp (RFC 5426), tcp (RFC 6587 octet counting) or tls (RFC 5425)' },
      host: strOrNull('the syslog receiver (IP address or host name)'),
      port: int(1, 65535, 514, 'its port (6514 is usual for tls)'),
      format: { enum: ['rfc5424', 'cef'], default: 'rfc5424', description: 'rfc5424: structured data and a text message; cef: an ArcSight CEF message in the RFC 5424 frame' },
      facility: int(0, 23, 16, 'syslog facility number (16: local0)'),
      appName: { type: 'string', default: 'p2pwall-brain', pattern: '^[!-~]{1,48}$', description: 'APP-NAME of the messages' },
      maxMessageBytes: int(480, 65_000, 2048, 'longest message sent; a longer one is cut (UDP receivers need not take more than 2048)'),
      tls: obj({ ca: strOrNull('PEM CA that signed the receiver certificate (null: the system CAs)'), cert: strOrNull('PEM client certificate (mutual TLS)'), key: strOrNull('its PEM key'), rejectUnauthorized: { type: 'boolean', default: true, description: 'false: the receiver certificate is not verified (tests only)' } }),
    }),
    queue: obj({
      maxEvents: int(1, 1_000_000, 1000, 'events waiting for delivery; when full the oldest is dropped (counted: outcome dropped-full)'),
      firstRetrySeconds: num(0.05, 3600, 1, 'the first retry after a failed delivery; each next one waits twice as long'),
      maxRetrySeconds: num(0.05, 3600, 60, 'the longest wait between retries'),
      maxAgeSeconds: int(1, 7 * 86_400, 3600, 'an event not delivered within this long is dropped (counted: outcome expired)'),
    }),
    rateLimit: obj({
      perMinute: num(0.01, 100_000, 60, 'events sent per minute at most (token bucket); the excess is dropped (counted: outcome rate-limited)'),
      burst: int(1, 100_000, 20, 'events that may go at once above the rate'),
    }),
    dedupSeconds: int(0, 30 * 86_400, 600, 'the same event (same kind and incident, host or entry) within this long is sent once (counted: outcome deduplicated); 0: off'),
  },
  { required: ['name', 'type'] },
);

export const NOTIFICATIONS_CONFIG_SCHEMA: ConfigSchema = obj({
  sinks: { type: 'array', items: SINK_SCHEMA, maxItems: 32, default: [], description: 'where notifications go; none: nothing is sent' },
});

const SINK_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** What the schema cannot say: names unique, each sink with what its type needs. Each problem names its key. */
export function notificationsConfigProblems(config: NotificationsConfig): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  config.sinks.forEach((sink, i) => {
    const at = `notifications.sinks[${i}]`;
    if (!SINK_NAME.test(sink.name)) problems.push(`${at}.name: ${JSON.stringify(sink.name.slice(0, 80))} is not a sink name: lower-case letters, digits and dashes`);
    else if (seen.has(sink.name)) problems.push(`${at}.name: "${sink.name}" names another sink too`);
    seen.add(sink.name);
    if (sink.secret !== null && sink.secretFile !== null) problems.push(`${at}: secret and secretFile both set: give one`);
    if (sink.secret !== null && sink.secret.length < 16) problems.push(`${at}.secret: shorter than 16 characters`);
    if (sink.secretFile !== null) {
      const problem = fileProblem(sink.secretFile, (text) => (firstLine(text).length < 16 ? 'its first line (the key) is shorter than 16 characters' : null));
      if (problem) problems.push(`${at}.secretFile: ${problem}`);
    }
    for (const key of ['ca', 'cert', 'key'] as const) {
      const path = sink.syslog.tls[key];
      const problem = path === null ? null : fileProblem(path, () => null);
      if (problem) problems.push(`${at}.syslog.tls.${key}: ${problem}`);
    }
    if (sink.queue.maxRetrySeconds < sink.queue.firstRetrySeconds) problems.push(`${at}.queue.maxRetrySeconds: less than firstRetrySeconds`);
    if (sink.events.length === 0) problems.push(`${at}.events: empty: the sink would get nothing (remove it instead)`);
    if (sink.type === 'syslog') {
      if (sink.url !== null || sink.urlFile !== null) problems.push(`${at}.url: a syslog sink sends to syslog.host and syslog.port, not a URL`);
      if (sink.syslog.host === null) problems.push(`${at}.syslog.host: required for a syslog sink`);
      else if (isIP(sink.syslog.host) === 0 && !HOST_NAME.test(sink.syslog.host)) problems.push(`${at}.syslog.host: ${JSON.stringify(sink.syslog.host.slice(0, 80))} is not an IP address or a host name`);
      if (sink.syslog.transport !== 'tls' && (sink.syslog.tls.ca !== null || sink.syslog.tls.cert !== null || sink.syslog.tls.key !== null)) problems.push(`${at}.syslog.tls: files given but syslog.transport is ${sink.syslog.transport}, not tls`);
      if ((sink.syslog.tls.cert === null) !== (sink.syslog.tls.key === null)) problems.push(`${at}.syslog.tls: cert and key go together`);
      return;
    }
    if (sink.url !== null && sink.urlFile !== null) problems.push(`${at}: url and urlFile both set: give one`);
    else if (sink.url === null && sink.urlFile === null) problems.push(`${at}.url: required for a ${sink.type} sink (or urlFile)`);
    else if (sink.url !== null) problems.push(...urlProblems(`${at}.url`, sink.url));
    else {
      const key = `${at}.urlFile`;
      const problem = fileProblem(sink.urlFile!, (text) => urlProblems(key, firstLine(text)).map((p) => p.slice(key.length + 2))[0] ?? null);
      if (problem) problems.push(`${key}: ${problem}`);
    }
  });
  return problems;
}

/** Why a file cannot serve (unreadable, or `check`'s answer about its text); null when it can. */
function fileProblem(path: string, check: (text: string) => string | null): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  return check(text);
}

/** The first line of a file, trimmed: a key or a URL kept in a mounted secret. */
export function firstLine(text: string): string {
  return (text.split(/\r?\n/)[0] ?? '').trim();
}

/** What is wrong with a sink's URL (never echoing it: it may carry a token). */
function urlProblems(key: string, text: string): string[] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [`${key}: not a URL`];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return [`${key}: must be http:// or https://, not ${url.protocol}//`];
  if (url.username !== '' || url.password !== '') return [`${key}: no user or password in the URL: use secret (signature) or the receiver's own token in its path`];
  return [];
}
