import { CONSUMERS, createLogger, REDIS_KEYS, STREAMS, SUBJECTS } from '@p2pwall/common';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNats, type RedisServer } from '@p2pwall/lab';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { loadBrainConfig, type BrainConfig } from '../src/config.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { BatchProcessor } from '../src/ingest/processor.js';
import { BrainService, ensureStream } from '../src/ingest/serve.js';
import { encodeBatch, flow, rules, sent, useRedisServer, apiTestConfig } from './support.js';

/** Issue 12: a batch the brain cannot process is not redelivered forever, and a huge one does not overflow the stack. */

let server: RedisServer;
let redis: Redis;
useRedisServer((client, started) => {
  redis = client;
  server = started;
});
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await redis.flushall();
});

const hostOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A brain on this file's redis-server and the given nats-server, without its API. */
function ingestOnly(natsUrl: string): BrainConfig {
  const config = apiTestConfig({ nats: natsUrl, redis: server.url }, { read: [], admin: [] });
  config.api.enabled = false;
  return config;
}

describe('a batch the brain cannot process (real nats-server and redis-server)', () => {
  it('a batch of 165,000 inside hosts is processed without overflowing the stack', async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32 }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000 });
    const flows = Array.from({ length: 165_000 }, (_, i) => flow({ host: hostOf(i + 1), to: '198.51.100.1', port: 40000, proto: 'udp', ts: Date.now() }));
    expect(await p.summary(...sent({ flows }))).toBe('processed');
    expect(await redis.exists(REDIS_KEYS.hostEndpoints('site-a', hostOf(165_000)))).toBe(1);
  }, 120_000);

  it('a message that fails at every delivery is dead-lettered at consumer.maxDeliver, logged once, and never comes back', async () => {
    const nats = await startNats();
    cleanups.push(() => nats.cleanup());
    const config = ingestOnly(nats.url);
    config.consumer.maxDeliver = 3;
    const lines: { msg: string }[] = [];
    const brain = new BrainService(config, createLogger({ name: 'poison-test', level: 'warn', destination: { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) } }));
    await brain.start();
    cleanups.push(() => brain.stop());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const js = jetstream(nc);

    // the blocklist hash replaced by a value of another type (by hand, or by another program): writing the batch's decision fails every time
    await redis.set(REDIS_KEYS.decisions, 'not a hash');
    await js.publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch({ sequence: 1, clients: [{ host: '192.168.1.77' }] }));
    await until('dead letter', () => brain.stats().deadLettered === 1).catch((error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify(brain.stats())} ${JSON.stringify(lines)}`);
    });
    expect(brain.stats().failures).toBe(2); // deliveries 1 and 2 were nak'ed, the 3rd was the last
    expect(lines.filter((l) => l.msg.startsWith('processing failed at the last delivery'))).toHaveLength(1);
    // repaired: the next batch goes through; the dead one does not come back
    await redis.del(REDIS_KEYS.decisions);
    await js.publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch({ sequence: 2, clients: [{ host: '192.168.1.5' }] }));
    await until('the next batch', () => brain.stats().ingest.batches === 1);
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(brain.stats()).toMatchObject({ deadLettered: 1, failures: 2 });
  }, 60_000);

  it('the stream refuses a message over stream.maxMessageBytes', async () => {
    const nats = await startNats();
    cleanups.push(() => nats.cleanup());
    const config = ingestOnly(nats.url);
    config.stream.maxMessageBytes = 64 * 1024;
    const brain = new BrainService(config, createLogger({ name: 'poison-test', level: 'silent' }));
    await brain.start();
    cleanups.push(() => brain.stop());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const big = encodeBatch({ flows: Array.from({ length: 2000 }, (_, i) => flow({ host: hostOf(i + 1), to: '198.51.100.1', port: 40000, proto: 'udp' })) });
    expect(big.length).toBeGreaterThan(64 * 1024);
    await expect(jetstream(nc).publish(SUBJECTS.summaries('site-a', 'gw1'), big)).rejects.toThrow(/maximum|size|exceed/i);
  }, 30_000);
});

describe('a merge that fails part-way (real redis-server)', () => {
  it('does not leave the batch claimed: once the state is repaired, the redelivery is processed, not skipped as a duplicate', async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32 }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000 });
    const key = REDIS_KEYS.hostEndpoints('site-a', '192.168.1.77');
    await redis.set(key, 'not a hash');
    const batch = sent({ flows: [flow({ host: '192.168.1.77', to: '198.51.100.1', port: 40000, proto: 'udp', ts: Date.now() })] });
    await expect(p.summary(...batch)).rejects.toThrow(/WRONGTYPE/);
    await redis.del(key);
    expect(await p.summary(...batch)).toBe('processed');
  });
});

describe('limits of a stream and consumer made by an earlier brain (real nats-server)', () => {
  it("an existing stream and consumer get this brain's message-size and delivery limits", async () => {
    const nats = await startNats();
    cleanups.push(() => nats.cleanup());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const earlier = loadBrainConfig(undefined, {});
    earlier.stream.storage = 'memory';
    await ensureStream(nc, earlier);
    const now = loadBrainConfig(undefined, {});
    now.stream.storage = 'memory';
    now.stream.maxMessageBytes = 64 * 1024;
    now.consumer.maxDeliver = 3;
    await ensureStream(nc, now);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(STREAMS.summaries)).config.max_msg_size).toBe(64 * 1024);
    expect((await jsm.consumers.info(STREAMS.summaries, CONSUMERS.brain)).config.max_deliver).toBe(3);
  });
});
