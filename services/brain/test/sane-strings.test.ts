import { REDIS_KEYS } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { decodeDecision } from '../src/decide/decision.js';
import { BatchProcessor } from '../src/ingest/processor.js';
import { batch, flow, rules, summariesSubject, useRedisServer } from './support.js';

/** Issue 12: strings from sensors are names and rule ids, bounded, before they reach decisions and Redis. */

let redis: Redis;
useRedisServer((client) => {
  redis = client;
});

/** Any C0 or C1 control character, or DEL. */
const hasControl = (text: string): boolean => [...text].some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f));

describe('strings from sensors (real redis-server)', () => {
  it('control characters, overlong names and foreign rule namespaces never reach a decision', async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32 }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000 });
    const forged = batch({
      flows: [{ ...flow({ host: '192.168.1.6', to: '198.51.100.2', port: 1214, app: '\u001b]0;owned\u0007', rules: ['fasttrack/handshake\n', 'x'.repeat(100_000), 'correlate/peer-fanout', ...Array.from({ length: 40 }, (_, i) => `fasttrack/r${i}`)] }) }],
    });
    forged.events = [
      { client: { host: new Uint8Array([192, 168, 1, 5]), protocol: '\u001b[31mred', evidence: [{ protocol: 'fasttrack', rule: 'fasttrack/udp-ping\r\nforged: yes', supporting: true }], tsMs: 1_000_000 } },
      { peer: { ip: new Uint8Array([198, 51, 100, 9]), port: 1214, protocol: 'p'.repeat(10_000), via: 'operator/manual', learnedFrom: new Uint8Array([192, 168, 1, 5]), tsMs: 1_000_000 } },
    ];
    expect(await p.summary(p2pwall.v1.SummaryBatch.encode(forged).finish(), summariesSubject())).toBe('processed');
    const decisions = Object.values(await redis.hgetallBuffer(REDIS_KEYS.decisions)).map(decodeDecision);
    expect(decisions.length).toBeGreaterThan(0);
    for (const decision of decisions) {
      expect(hasControl(decision.reason), decision.reason).toBe(false);
      expect(decision.reason.length).toBeLessThan(200);
      for (const rule of decision.evidence.rules) expect(rule).toMatch(/^[a-z0-9][a-z0-9-]*\/[a-z0-9][a-z0-9-]*$/);
      expect(decision.evidence.rules.filter((r) => r.startsWith('correlate/') || r.startsWith('operator/'))).toEqual([]);
      expect(decision.evidence.rules.length).toBeLessThanOrEqual(16);
    }
    expect(p.counters.invalidStrings).toBeGreaterThan(0);
  });

  it('a sensor instance with control characters or over 64 characters makes the batch malformed', async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32 }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000 });
    for (const instance of ['inst\n1', 'i'.repeat(65)]) {
      expect(await p.summary(p2pwall.v1.SummaryBatch.encode(batch({ instance, clients: [{ host: '192.168.1.5' }] })).finish(), summariesSubject())).toBe('malformed');
    }
  });
});
