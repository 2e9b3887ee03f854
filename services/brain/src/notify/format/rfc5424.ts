import { headline, type NotificationEvent } from '../events.js';

/**
 * A syslog message as RFC 5424 writes it:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [p2pwall@32473 ...] MSG`. The structured data
 * ID uses 32473, the enterprise number RFC 5612 sets aside for documentation, as a private SD-ID
 * must carry one. PARAM-VALUEs escape `"`, `\` and `]` (section 6.3.3). The message is UTF-8
 * with a BOM (6.4), or a CEF text without one (SIEM parsers expect it to start with `CEF:`).
 */

export const SD_ID = 'p2pwall@32473';

/** Syslog severity of each kind: notice, warning, notice. */
export const SYSLOG_SEVERITY: Record<NotificationEvent['kind'], number> = { 'incident-opened': 5, 'incident-escalated': 4, 'operator-overrule': 5 };

const BOM = '\ufeff';
const param = (text: string): string => text.replace(/[\\"\]]/g, (c) => `\\${c}`);
/** HOSTNAME, APP-NAME, PROCID, MSGID: printable US-ASCII without spaces, bounded, "-" when empty. */
const token = (text: string, max: number): string => text.replace(/[^!-~]/g, '').slice(0, max) || '-';

function structuredData(event: NotificationEvent, valueMax: number): string {
  const pairs: [string, string][] = [['event', event.kind], ['eventId', event.eventId]];
  if (event.kind === 'operator-overrule') {
    const o = event.overrule;
    pairs.push(['action', o.action], ['entry', o.id], ['scope', o.scope], ['value', o.value], ['site', o.site], ['author', o.author], ['reason', o.reason]);
  } else {
    const i = event.incident;
    pairs.push(['incident', i.id], ['site', i.site], ['host', i.host], ['protocol', i.protocol], ['rule', i.rule], ['peers', String(i.peers)], ['decisions', String(i.decisionCount)]);
    if (event.kind === 'incident-escalated') pairs.push(['reasons', event.reasons.join('; ')]);
  }
  // valueMax 0: the event's kind alone (a message limit too small for the rest)
  const kept = valueMax === 0 ? pairs.slice(0, 1) : pairs;
  return `[${SD_ID} ${kept.map(([k, v]) => `${k}="${param(v.length > valueMax && valueMax > 0 ? v.slice(0, valueMax) : v)}"`).join(' ')}]`;
}

export interface SyslogFrame {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
}

/** The whole message; `cef`: its MSG part when the sink's format is cef (else the headline). */
export function rfc5424Message(event: NotificationEvent, frame: SyslogFrame, cef?: string): string {
  return `${header(event, frame)} ${structuredData(event, Infinity)} ${cef ?? BOM + headline(event)}`;
}

function header(event: NotificationEvent, frame: SyslogFrame): string {
  const pri = frame.facility * 8 + SYSLOG_SEVERITY[event.kind];
  return `<${pri}>1 ${new Date(event.atMs).toISOString()} ${token(frame.hostname, 255)} ${token(frame.appName, 48)} ${token(frame.procId, 128)} ${token(event.kind, 32)}`;
}

/**
 * The message as UTF-8 of at most `maxBytes`: the text (or CEF) part is cut first, so header and
 * structured data stay whole and parseable; only when they alone are too long are the
 * structured data's values shortened (to 64, then 16 characters, then only the event's kind).
 */
export function rfc5424Bytes(event: NotificationEvent, frame: SyslogFrame, maxBytes: number, cef?: string): Buffer {
  const msg = cef ?? BOM + headline(event);
  let head = '';
  for (const valueMax of [Infinity, 64, 16, 0]) {
    head = `${header(event, frame)} ${structuredData(event, valueMax)} `;
    const headBytes = Buffer.byteLength(head, 'utf8');
    if (headBytes <= maxBytes) return Buffer.concat([Buffer.from(head, 'utf8'), utf8Bounded(msg, maxBytes - headBytes)]);
  }
  return utf8Bounded(head, maxBytes);
}

/** `text` as UTF-8 of at most `max` bytes, cut at a character boundary. */
export function utf8Bounded(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return bytes;
  let end = max;
  // a continuation byte (10xxxxxx) is not where a character starts
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/** RFC 6587 octet counting (TCP) and RFC 5425 (TLS): `LENGTH SP MESSAGE`. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}
