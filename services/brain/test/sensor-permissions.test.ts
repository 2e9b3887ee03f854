import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { sensorNatsPermissions, STREAMS, SUBJECTS } from '@p2pwall/common';
import { startNats, type NatsServer } from '@p2pwall/lab';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../src/config.js';
import { ensureStream } from '../src/ingest/serve.js';
import { encodeBatch } from './support.js';

/**
 * Per-sensor NATS users (issue 12), as the README shows them: each sensor's user may publish only
 * its own subjects (sensorNatsPermissions), so one sensor cannot publish as another. A real
 * nats-server with three users: the brain, and the sensors of site-a/gw1 and site-b/gw2.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function login(nats: NatsServer, user: string): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, user, pass: `${user}-password` });
  cleanups.push(() => nc.close());
  return nc;
}

describe('per-sensor NATS credentials (real nats-server)', () => {
  it('a sensor publishes its own summaries and heartbeats; publishing as another sensor is refused and never reaches the stream', async () => {
    const nats = await startNats({
      security: {
        users: [
          { name: 'brain', password: 'brain-password' },
          { name: 'sensor-site-a-gw1', password: 'sensor-site-a-gw1-password', permissions: sensorNatsPermissions('site-a', 'gw1') },
          { name: 'sensor-site-b-gw2', password: 'sensor-site-b-gw2-password', permissions: sensorNatsPermissions('site-b', 'gw2') },
        ],
      },
    });
    cleanups.push(() => nats.cleanup());
    const brain = await login(nats, 'brain');
    const config = loadBrainConfig(undefined, {});
    config.stream.storage = 'memory';
    await ensureStream(brain, config);

    const sensorA = jetstream(await login(nats, 'sensor-site-a-gw1'));
    const own = await sensorA.publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch({ site: 'site-a', gateway: 'gw1' }), { timeout: 2000 });
    expect(own.stream).toBe(STREAMS.summaries);
    const impersonation = sensorA.publish(SUBJECTS.summaries('site-b', 'gw2'), encodeBatch({ site: 'site-b', gateway: 'gw2' }), { timeout: 1000 });
    await expect(impersonation).rejects.toThrow(/permission|timeout|no responders/i);
    const otherHeartbeat = sensorA.publish(SUBJECTS.heartbeats('site-b', 'gw2'), new Uint8Array([1]), { timeout: 1000 });
    await expect(otherHeartbeat).rejects.toThrow(/permission|timeout|no responders/i);

    const sensorB = jetstream(await login(nats, 'sensor-site-b-gw2'));
    expect((await sensorB.publish(SUBJECTS.heartbeats('site-b', 'gw2'), new Uint8Array([1]), { timeout: 2000 })).stream).toBe(STREAMS.summaries);

    const stream = await (await jetstreamManager(brain)).streams.info(STREAMS.summaries);
    expect(stream.state.messages).toBe(2);
    expect(stream.state.num_subjects).toBe(2);
  });
});
