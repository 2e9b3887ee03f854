import { describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../../src/config.js';
import { DedupWindow } from '../../src/notify/dedup.js';
import { escalationReasons, incidentLevel } from '../../src/notify/escalation.js';
import { bounded, dedupKey, headline, incidentSummary } from '../../src/notify/events.js';
import { cefMessage } from '../../src/notify/format/cef.js';
import { webhookBody } from '../../src/notify/format/json.js';
import { octetCounted, rfc5424Bytes, rfc5424Message, utf8Bounded } from '../../src/notify/format/rfc5424.js';
import { slackPayload } from '../../src/notify/format/slack.js';
import { teamsPayload } from '../../src/notify/format/teams.js';
import { retryDelayMs } from '../../src/notify/queue.js';
import { fullBucket, takeToken } from '../../src/notify/rate-limit.js';
import { signature, verifySignature } from '../../src/notify/signature.js';
import { AT, incidentView, openedEvent, overrule } from './fixtures.js';
import { octetFrames, parseCef, parseRfc5424 } from './parse.js';

/** The pure parts of notifications: limits, de-duplication, escalation steps, signatures, payloads. */

describe('token bucket (rate limit)', () => {
  it('lets a burst through, then one event per 60/perMinute seconds', () => {
    const rate = { perMinute: 6, burst: 3 };
    let bucket = fullBucket(3, 0);
    const outcomes: boolean[] = [];
    for (let i = 0; i < 5; i += 1) {
      const taken = takeToken(bucket, 0, rate);
      bucket = taken.bucket;
      outcomes.push(taken.allowed);
    }
    expect(outcomes).toEqual([true, true, true, false, false]);
    expect(takeToken(bucket, 9_999, rate).allowed).toBe(false); // 6 a minute: one token per 10 s
    expect(takeToken(bucket, 10_000, rate).allowed).toBe(true);
    // an hour idle fills it to the burst, no more
    bucket = takeToken(bucket, 3_600_000, rate).bucket;
    expect(bucket.tokens).toBe(2);
  });
});

describe('de-duplication window', () => {
  it('sends a key once per window, again after it; memory stays bounded', () => {
    const dedup = new DedupWindow(10_000, 3);
    expect(dedup.admit('a', 0)).toBe(true);
    expect(dedup.admit('a', 9_999)).toBe(false);
    expect(dedup.admit('a', 10_000)).toBe(true);
    for (const key of ['b', 'c', 'd', 'e']) dedup.admit(key, 10_001);
    expect(dedup.size).toBe(3);
    expect(new DedupWindow(0).admit('a', 0)).toBe(true);
  });

  it('keys: a host\'s new incident per protocol, an escalation step per incident, an action per entry', () => {
    expect(dedupKey(openedEvent())).toBe(dedupKey(openedEvent({ id: 'site-a-other-1' })));
    expect(dedupKey(openedEvent())).not.toBe(dedupKey(openedEvent({ protocol: 'gnutella' })));
    expect(dedupKey(overrule())).toBe('overrule|allow-added|allow:host:site-a:192.168.1.5');
  });
});

describe('escalation', () => {
  it('a further gateway, a step of peers, a first block, a host lock; nothing when only counts move', () => {
    const base = incidentView({ gateways: ['gw1'], peers: { count: 3, sample: [] }, decisions: [] });
    const before = incidentLevel(base);
    expect(escalationReasons(before, incidentLevel({ ...base, peers: { count: 9, sample: [] } }), base)).toEqual([]);
    const grown = incidentView({ gateways: ['gw1', 'gw2'], peers: { count: 12, sample: [] }, decisions: ['endpoint:198.51.100.9:1214'] });
    expect(escalationReasons(before, incidentLevel(grown), grown)).toEqual(['seen at 2 gateways (gw1, gw2)', '12 peers (past 10)', 'peers blocked']);
    const locked = incidentView({ decisions: ['endpoint:198.51.100.9:1214', 'host:site-a:192.168.1.5'] });
    expect(escalationReasons(incidentLevel(grown), incidentLevel(locked), locked)).toEqual(['host locked']);
  });
});

describe('webhook signature', () => {
  it('HMAC-SHA256 over timestamp.body; a changed body, another key or an old timestamp fail', () => {
    const secret = 'a-secret-of-16-chars+';
    const body = '{"kind":"incident-opened"}';
    const header = signature(secret, 1_800_000_000, body);
    expect(header).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, header, '1800000000', body, 1_800_000_100)).toBe(true);
    expect(verifySignature(secret, header, '1800000000', `${body} `, 1_800_000_100)).toBe(false);
    expect(verifySignature('another-secret-0000', header, '1800000000', body, 1_800_000_100)).toBe(false);
    expect(verifySignature(secret, header, '1800000000', body, 1_800_000_301)).toBe(false);
    expect(verifySignature(secret, header, '1800000001', body, 1_800_000_100)).toBe(false);
  });
});

describe('retry waits', () => {
  it('double from the first, capped', () => {
    expect([1, 2, 3, 4, 5, 40].map((n) => retryDelayMs(n, 500, 3000))).toEqual([500, 1000, 2000, 3000, 3000, 3000]);
  });
});

describe('payloads', () => {
  it('what sensors sent is bounded and stripped of control characters', () => {
    const long = incidentSummary(incidentView({ identifiedBy: { rule: 'fasttrack/udp-ping', detail: `evil\n<script>${'x'.repeat(1000)}`, flow: '', packet: 0, seen: '', gateway: '' } }));
    expect(long.detail.length).toBe(256);
    expect(long.detail).not.toMatch(/\n/);
    expect(bounded('a\u0000b')).toBe('a b');
  });

  it('webhook JSON: versioned, the incident and a headline', () => {
    const body = webhookBody(openedEvent(), 'brain-1');
    expect(body).toMatchObject({ version: 1, kind: 'incident-opened', time: '2026-12-07T10:00:06.000Z', source: 'brain-1', incident: { host: '192.168.1.5', site: 'site-a', protocol: 'fasttrack', rule: 'fasttrack/udp-ping', peers: 2 } });
    expect(body.summary).toBe('New P2P host 192.168.1.5 at site-a: fasttrack (fasttrack/udp-ping: KaZaA)');
    expect(headline(overrule())).toBe('Operator alice allowed host 192.168.1.5 at site-a: approved | "lab" = ok]');
  });

  it('Slack: text plus Block Kit sections with at most 10 fields, markup escaped', () => {
    const payload = slackPayload(openedEvent({ host: '192.168.1.5', identifiedBy: { rule: 'fasttrack/udp-ping', detail: '<@here> & co', flow: '', packet: 0, seen: '', gateway: '' } }), 'brain-1');
    expect(payload.text).toContain('&lt;@here&gt; &amp; co');
    expect(payload.text).not.toContain('<@here>');
    expect(payload.blocks.map((b) => b['type'])).toEqual(['section', 'section', 'context']);
    const fields = payload.blocks[1]!['fields'] as { type: string; text: string }[];
    expect(fields.length).toBeLessThanOrEqual(10);
    expect(fields[0]).toEqual({ type: 'mrkdwn', text: '*Host*\n192.168.1.5' });
  });

  it('Teams: a message with one Adaptive Card (TextBlock, FactSet)', () => {
    const payload = teamsPayload(overrule(), 'brain-1');
    expect(payload.type).toBe('message');
    const card = payload.attachments[0]!;
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    const body = card.content['body'] as { type: string; facts?: { title: string; value: string }[] }[];
    expect(body.map((b) => b.type)).toEqual(['TextBlock', 'FactSet', 'TextBlock']);
    expect(body[1]!.facts).toContainEqual({ title: 'Author', value: 'alice' });
  });

  it('RFC 5424: PRI, header, escaped structured data, a BOM before the text', () => {
    const event = overrule();
    const parsed = parseRfc5424(rfc5424Message(event, { facility: 16, hostname: 'brain 1', appName: 'p2pwall-brain', procId: '42' }));
    expect(parsed).toMatchObject({ pri: 16 * 8 + 5, version: 1, timestamp: '2026-12-07T10:00:06.000Z', hostname: 'brain1', appName: 'p2pwall-brain', procId: '42', msgId: 'operator-overrule', bom: true });
    expect(parsed.sd['p2pwall@32473']).toMatchObject({ event: 'operator-overrule', action: 'allow-added', author: 'alice', entry: 'allow:host:site-a:192.168.1.5', reason: 'approved | "lab" = ok]' });
    expect(parsed.msg).toBe('Operator alice allowed host 192.168.1.5 at site-a: approved | "lab" = ok]');
    const opened = parseRfc5424(rfc5424Message(openedEvent({ identifiedBy: { rule: 'x/y', detail: 'a"]\\b', flow: '', packet: 0, seen: '', gateway: '' } }), { facility: 1, hostname: 'h', appName: 'a', procId: '1' }));
    expect(opened.severity).toBe(5);
    expect(opened.sd['p2pwall@32473']!['rule']).toBe('x/y');
    expect(opened.msg).toContain('a"]\\b');
  });

  it('CEF: header and extension values escaped, addresses in src/dst, custom labels', () => {
    const cef = parseCef(cefMessage(overrule(), '0.1|beta', 'brain-1'));
    expect(cef).toMatchObject({ version: '0', vendor: 'p2pwall', product: 'brain', deviceVersion: '0.1|beta', signatureId: 'operator-overrule', name: 'Operator overrule', severity: '5' });
    expect(cef.extensions).toMatchObject({ act: 'allow-added', suser: 'alice', reason: 'approved | "lab" = ok]', cs1Label: 'entry', cs1: 'allow:host:site-a:192.168.1.5', rt: String(AT) });
    const opened = parseCef(cefMessage(openedEvent(), '0.1.0', 'brain-1'));
    expect(opened.extensions).toMatchObject({ src: '192.168.1.5', dst: '198.51.100.9', app: 'fasttrack', act: 'lock', cs1: 'site-a-kx3-0a1b2c3d', cn1: '2' });
    const v6 = parseCef(cefMessage(openedEvent({ host: 'fd00::5', peers: { count: 1, sample: ['[2001:db8::9]:1214'] } }), '0.1.0', 'b'));
    expect(v6.extensions).toMatchObject({ c6a2: 'fd00::5', c6a3: '2001:db8::9' });
    expect(v6.extensions['src']).toBeUndefined();
  });

  it('a message over maxMessageBytes loses its text first, then structured data values are shortened: always parseable', () => {
    const long = { ...overrule() } as Extract<ReturnType<typeof overrule>, { kind: 'operator-overrule' }>;
    long.overrule = { ...long.overrule, reason: 'r'.repeat(256), author: 'ä'.repeat(256), value: 'v'.repeat(256) };
    const frame = { facility: 16, hostname: 'h'.repeat(255), appName: 'p2pwall-brain', procId: '1' };
    const whole = rfc5424Message(long, frame);
    expect(Buffer.byteLength(whole)).toBeGreaterThan(2048);
    for (const max of [2048, 1200, 480]) {
      const bytes = rfc5424Bytes(long, frame, max);
      expect(bytes.length).toBeLessThanOrEqual(max);
      const parsed = parseRfc5424(bytes.toString('utf8'));
      expect(parsed.sd['p2pwall@32473']!['event']).toBe('operator-overrule');
    }
    expect(parseRfc5424(rfc5424Bytes(long, frame, 2048).toString()).sd['p2pwall@32473']!['reason']).toBe('r'.repeat(256));
    expect(parseRfc5424(rfc5424Bytes(long, frame, 1200).toString()).sd['p2pwall@32473']!['reason']).toBe('r'.repeat(64));
    expect(parseRfc5424(rfc5424Bytes(long, frame, 480).toString()).sd['p2pwall@32473']).toEqual({ event: 'operator-overrule' });
  });

  it('UTF-8 cut at a character boundary; octet counting frames', () => {
    expect(utf8Bounded('aé', 2).toString()).toBe('a');
    const frames = octetFrames(Buffer.concat([octetCounted(Buffer.from('hello')), octetCounted(Buffer.from('wörld')), Buffer.from('12 par')]));
    expect(frames.frames.map(String)).toEqual(['hello', 'wörld']);
    expect(String(frames.rest)).toBe('12 par');
  });
});

describe('notifications config', () => {
  const load = (sinks: unknown) => loadBrainConfig(undefined, { P2PWALL_BRAIN_NOTIFICATIONS__SINKS: JSON.stringify(sinks) });
  it('none by default; a sink gets every default', () => {
    expect(loadBrainConfig(undefined, {}).notifications.sinks).toEqual([]);
    const [sink] = load([{ name: 'soc', type: 'webhook', url: 'https://soc.example.org/hook' }]).notifications.sinks;
    expect(sink).toMatchObject({ events: ['incident-opened', 'incident-escalated', 'operator-overrule'], dedupSeconds: 600, rateLimit: { perMinute: 60, burst: 20 }, queue: { maxEvents: 1000 }, syslog: { transport: 'udp', port: 514 } });
  });
  it('names the key of each problem', () => {
    const problems = (sinks: unknown): string => {
      try {
        load(sinks);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(problems([{ name: 'a', type: 'webhook' }])).toMatch(/notifications\.sinks\[0\]\.url: required for a webhook sink \(or urlFile\)/);
    expect(problems([{ name: 'a', type: 'slack', url: 'https://x', urlFile: '/etc/hostname' }])).toMatch(/sinks\[0\]: url and urlFile both set/);
    expect(problems([{ name: 'a', type: 'slack', urlFile: '/etc/hostname' }])).toMatch(/sinks\[0\]\.urlFile: not a URL/);
    expect(problems([{ name: 'a', type: 'slack', urlFile: '/nonexistent/url' }])).toMatch(/sinks\[0\]\.urlFile: cannot read \/nonexistent\/url/);
    expect(problems([{ name: 'a', type: 'slack', url: 'ftp://x' }])).toMatch(/sinks\[0\]\.url: must be http:\/\/ or https:\/\//);
    expect(problems([{ name: 'a', type: 'syslog' }])).toMatch(/sinks\[0\]\.syslog\.host: required/);
    expect(problems([{ name: 'a', type: 'webhook', url: 'http://x', secret: 'short' }])).toMatch(/sinks\[0\]\.secret: shorter than 16/);
    expect(problems([{ name: 'a', type: 'teams', url: 'http://x' }, { name: 'a', type: 'teams', url: 'http://y' }])).toMatch(/sinks\[1\]\.name: "a" names another sink/);
    expect(problems([{ name: 'a', type: 'pager' }])).toMatch(/sinks\/0\/type|sinks\[0\]\.type/);
    expect(problems([{ name: 'a', type: 'webhook', url: 'http://x', events: ['everything'] }])).toMatch(/events/);
    expect(problems([{ name: 'a', type: 'webhook', url: 'http://x', secretFile: '/nonexistent/p2pwall-key' }])).toMatch(/sinks\[0\]\.secretFile: cannot read \/nonexistent\/p2pwall-key \(ENOENT\)/);
    expect(problems([{ name: 'a', type: 'syslog', syslog: { transport: 'tls', host: 'siem.example.org', tls: { ca: '/nonexistent/ca.pem' } } }])).toMatch(/sinks\[0\]\.syslog\.tls\.ca: cannot read/);
    expect(problems([{ name: 'a', type: 'syslog', syslog: { transport: 'udp', host: 'siem.example.org', tls: { ca: '/etc/hostname' } } }])).toMatch(/syslog\.tls: files given but syslog\.transport is udp/);
  });
});
