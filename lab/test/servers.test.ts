import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startNats, startRedis } from '../src/servers.js';

function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
  });
}

describe('test servers', () => {
  it('starts nats-server with JetStream on a free port, and restarts it on the same one', async () => {
    const nats = await startNats();
    try {
      expect(nats.port).not.toBe(4222);
      let nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      expect((await jsm.getAccountInfo()).streams).toBe(0);
      await nc.close();
      await nats.restart();
      nc = await connect({ servers: nats.url });
      await nc.flush();
      await nc.close();
    } finally {
      await nats.cleanup();
    }
  });

  it('starts redis-server on a free port, empty again after a restart', async () => {
    const redis = await startRedis();
    try {
      expect(redis.port).not.toBe(6379);
      expect(await redisCommand(redis.port, 'SET k v')).toBe('+OK\r\n');
      await redis.restart();
      expect(await redisCommand(redis.port, 'GET k')).toBe('$-1\r\n');
    } finally {
      await redis.cleanup();
    }
  });
});
