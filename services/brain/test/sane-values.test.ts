import { REDIS_KEYS } from '@p2pwall/common';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { MAX_FLOW_COUNTER } from '@p2pwall/common/correlate';
import { Allowlist } from '../src/decide/allowlist.js';
import { decodeDecision } from '../src/decide/decision.js';
import { IncidentStore } from '../src/incidents/store.js';
import { BatchProcessor } from '../src/ingest/processor.js';
import { flow, rules, sent, useRedisServer } from './support.js';

/** Issue 12: times and counters from a sensor are bounded before they reach decisions, incidents and the API. */

let redis: Redis;
const clock = Date.UTC(2026, 11, 7);
const now = () => clock;
useRedisServer((client) => {
  redis = client;
});
beforeEach(async () => {
  await redis.flushall();
});

function brain() {
  const store = new IncidentStore(redis, { quietMs: 1_800_000, retentionMs: 86_400_000, maxSamples: 5, listItems: 5, now });
  const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32, now }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000, incidents: { store, maxSamples: 5 }, now });
  return { p, store };
}

describe('times and counters from sensors (real redis-server)', () => {
  it('a time far in the future (or before 2000) becomes the brain clock: decisions stay printable as ISO dates', async () => {
    const { p } = brain();
    const forged = 1e17; // year ~3 million: new Date(1e17).toISOString() throws
    expect(await p.summary(...sent({ created: clock, clients: [{ host: '192.168.1.5', ts: forged }], peers: [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5', ts: 946_684_799_000 }] }))).toBe('processed');
    for (const id of ['host:site-a:192.168.1.5', 'endpoint:198.51.100.9:1214']) {
      const decision = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, id))!);
      expect(decision.evidence.lastSeenMs).toBe(clock);
      expect(() => new Date(decision.evidence.firstSeenMs).toISOString()).not.toThrow();
    }
    expect(p.counters.outOfRange).toBe(2);
  });

  it('a flow of 2^63 bytes is bounded, and its incident is recorded (no overflow drops the batch)', async () => {
    const { p, store } = brain();
    const huge = { ...flow({ host: '192.168.1.5', to: '198.51.100.9', port: 1214, app: 'fasttrack', rules: ['fasttrack/encrypted-handshake'], ts: clock }), bytesOut: 2 ** 63, bytesIn: 2 ** 62 };
    // two flows (another outside port): the same flow summarized twice would count once
    expect(await p.summary(...sent({ created: clock, flows: [huge, { ...huge, outsidePort: 1215 }] }))).toBe('processed');
    expect(p.counters).toMatchObject({ incidentFailures: 0, outOfRange: 4 });
    const listed = await store.list({ limit: 10 });
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0]!.bytes).toBe(4 * MAX_FLOW_COUNTER);
  });
});
