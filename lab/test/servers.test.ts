import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../src/certs.js';
import { makeNatsOperator } from '../src/nats-jwt.js';
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

  it('starts a persistent redis-server (append-only file) that restarts with its data, or without it when its files are lost', async () => {
    const redis = await startRedis({ persistent: true });
    try {
      expect(await redisCommand(redis.port, 'CONFIG GET appendonly')).toMatch(/yes/);
      expect(await redisCommand(redis.port, 'SET k v')).toBe('+OK\r\n');
      await redis.restart();
      expect(await redisCommand(redis.port, 'GET k')).toBe('$1\r\nv\r\n');
      await redis.restart({ lose: true });
      expect(await redisCommand(redis.port, 'GET k')).toBe('$-1\r\n');
    } finally {
      await redis.cleanup();
    }
  });
});

/** Sends RESP inline commands one by one over a socket (plain or TLS) and returns each first reply. */
async function redisSession(socket: Socket, commands: string[]): Promise<string[]> {
  const replies: string[] = [];
  socket.setEncoding('utf8');
  for (const command of commands) {
    replies.push(
      await new Promise<string>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('connection closed')));
        socket.once('data', (data: string) => resolve(data.trim()));
        socket.write(`${command}\r\n`);
      }),
    );
  }
  socket.destroy();
  return replies;
}

describe('test servers with credentials and TLS', () => {
  let certs: TestCertificates;
  beforeAll(async () => {
    certs = await makeTestCertificates();
  });
  afterAll(() => certs?.cleanup());

  it('makes a CA, a server certificate for 127.0.0.1 and a client certificate it signed', () => {
    const ca = new X509Certificate(readFileSync(certs.ca));
    const server = new X509Certificate(readFileSync(certs.serverCert));
    const client = new X509Certificate(readFileSync(certs.clientCert));
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey) && client.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.verify(new X509Certificate(readFileSync(certs.otherCa)).publicKey)).toBe(false);
  });

  it('nats-server demands user/password, a token, or creds of a trusted account', async () => {
    const withUser = await startNats({ security: { user: { name: 'u', password: 'p' } } });
    try {
      await expect(connect({ servers: withUser.url })).rejects.toThrow(/Authorization Violation/);
      await expect(connect({ servers: withUser.url, user: 'u', pass: 'x' })).rejects.toThrow(/Authorization Violation/);
      await (await connect({ servers: withUser.url, user: 'u', pass: 'p' })).close();
    } finally {
      await withUser.cleanup();
    }
    const withToken = await startNats({ security: { token: 't"quoted' } });
    try {
      await expect(connect({ servers: withToken.url, token: 't' })).rejects.toThrow(/Authorization Violation/);
      await (await connect({ servers: withToken.url, token: 't"quoted' })).close();
    } finally {
      await withToken.cleanup();
    }
    const operator = makeNatsOperator();
    const withJwt = await startNats({ security: { operator } });
    try {
      const creds = (text: string) => ({ authenticator: credsAuthenticator(new TextEncoder().encode(text)) });
      await expect(connect({ servers: withJwt.url, ...creds(operator.strangerCreds('x')) })).rejects.toThrow(/Authorization Violation/);
      const nc = await connect({ servers: withJwt.url, ...creds(operator.userCreds('x')) });
      expect((await (await jetstreamManager(nc)).getAccountInfo()).streams).toBe(0); // JetStream works for the account
      await nc.close();
      await withJwt.restart();
      await (await connect({ servers: withJwt.url, ...creds(operator.userCreds('y')) })).close();
    } finally {
      await withJwt.cleanup();
    }
  });

  it('nats-server over TLS: tls:// URL, the server verified by the CA, client certificates required when asked', async () => {
    const server = await startNats({ security: { tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verifyClients: true } } });
    try {
      expect(server.url).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
      await expect(connect({ servers: server.url, tls: { caFile: certs.otherCa, certFile: certs.clientCert, keyFile: certs.clientKey } })).rejects.toThrow(/verify|certificate/);
      await (await connect({ servers: server.url, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } })).close();
    } finally {
      await server.cleanup();
    }
  });

  it('redis-server with ACL users (default user off) and with TLS that verifies clients', async () => {
    const acl = await startRedis({ security: { users: [{ name: 'reader', password: 'rpw', rules: ['~*', '-@all', '+@read', '+@connection'] }] } });
    try {
      expect(await redisCommand(acl.port, 'PING')).toMatch(/^-NOAUTH/);
      const replies = await redisSession(createConnection({ host: '127.0.0.1', port: acl.port }), ['AUTH reader wrong', 'AUTH reader rpw', 'GET k', 'SET k v']);
      expect(replies[0]).toMatch(/^-WRONGPASS/);
      expect(replies.slice(1, 3)).toEqual(['+OK', '$-1']);
      expect(replies[3]).toMatch(/^-NOPERM/);
    } finally {
      await acl.cleanup();
    }
    const tls = await startRedis({ security: { password: 'pw', tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verifyClients: true } } });
    try {
      expect(tls.url).toBe(`rediss://:pw@127.0.0.1:${tls.port}`);
      const open = (withClientCert: boolean): Promise<Socket> =>
        new Promise((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port: tls.port, ca: readFileSync(certs.ca), ...(withClientCert ? { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {}) }, () => resolve(socket));
          socket.once('error', reject);
        });
      expect(await redisSession(await open(true), ['PING', 'AUTH pw', 'PING'])).toEqual(['-NOAUTH Authentication required.', '+OK', '+PONG']);
      // Without a client certificate the server ends the session during or right after the handshake.
      await expect(open(false).then((socket) => redisSession(socket, ['PING']))).rejects.toThrow();
      await tls.restart();
      expect(await redisSession(await open(true), ['AUTH pw', 'PING'])).toEqual(['+OK', '+PONG']);
    } finally {
      await tls.cleanup();
    }
  });
});

