/**
 * What an operator reads from the brain: the built `p2pwall-brain` binary's messages and exit
 * codes at start, and the log lines of a running brain when NATS goes away and comes back
 * (real nats-server and redis-server).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capturedLog, startNats, startRedis, type NatsServer, type RedisServer } from '@p2pwall/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../src/config.js';
import { BrainService } from '../src/ingest/serve.js';

const BRAIN = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'p2pw-brain-msg-'));
let redis: RedisServer;
let nats: NatsServer;

beforeAll(async () => {
  [redis, nats] = await Promise.all([startRedis(), startNats()]);
});
afterAll(async () => {
  await Promise.all([redis.cleanup(), nats.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

function brain(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('P2PWALL_')));
  const quiet = { P2PWALL_BRAIN_TELEMETRY__ENABLED: 'false', P2PWALL_BRAIN_STREAM__STORAGE: 'memory' };
  return new Promise((resolve) => {
    execFile(process.execPath, [BRAIN, ...args], { env: { ...base, ...quiet, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

const personLines = (stderr: string) => stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'));

describe('p2pwall-brain (built binary): messages at start', () => {
  it('a short token is reported before anything connects, with exit 2 (Redis and NATS are not even there)', async () => {
    const run = await brain(['serve'], { P2PWALL_BRAIN_API__TOKENS__READ: '[short]', P2PWALL_BRAIN_REDIS__URL: 'redis://127.0.0.1:1', P2PWALL_BRAIN_NATS__SERVERS: '[nats://127.0.0.1:1]' });
    expect(run.code).toBe(2);
    expect(personLines(run.stderr)).toEqual(['p2pwall-brain: api.tokens.read[0]: a token must have at least 16 characters']);
    expect(run.stderr).not.toMatch(/connect|refused/);
  });

  it('NATS down: one line naming the service, the URL, the cause and the key; exit 1', async () => {
    const run = await brain(['serve'], { P2PWALL_BRAIN_API__ENABLED: 'false', P2PWALL_BRAIN_REDIS__URL: redis.url, P2PWALL_BRAIN_NATS__SERVERS: '[nats://127.0.0.1:1]' });
    expect(run.code).toBe(1);
    expect(personLines(run.stderr)).toEqual(['p2pwall-brain: cannot reach NATS at nats://127.0.0.1:1: connection refused (nats.servers)']);
  });

  it('Redis down: the same, for Redis', async () => {
    const run = await brain(['serve'], { P2PWALL_BRAIN_API__ENABLED: 'false', P2PWALL_BRAIN_REDIS__URL: 'redis://127.0.0.1:1', P2PWALL_BRAIN_NATS__SERVERS: `[${nats.url}]` });
    expect(run.code).toBe(1);
    expect(personLines(run.stderr)).toEqual(['p2pwall-brain: cannot reach Redis at redis://127.0.0.1:1: connection refused (redis.url)']);
  });

  it('config: checks without connecting and prints the configuration with secrets redacted', async () => {
    const tokens = join(dir, 'read-tokens');
    writeFileSync(tokens, '# the operators\nread-token-000000000001\n');
    const run = await brain(['config'], { P2PWALL_BRAIN_API__TOKENFILES__READ: tokens, P2PWALL_BRAIN_REDIS__URL: 'redis://:hunter2-password@127.0.0.1:1' });
    expect(run.code, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as { redis: { url: string }; api: { tokenFiles: { read: string } } };
    expect(printed.redis.url).not.toContain('hunter2');
    expect(printed.api.tokenFiles.read).toBe(tokens);
    const bad = await brain(['config'], { P2PWALL_BRAIN_API__TOKENFILES__READ: join(dir, 'absent') });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/api\.tokenFiles\.read: cannot read token file .*absent/);
  });
});

describe('a running brain: what it logs when NATS goes away and comes back', () => {
  it('one line when lost and one when back, with the servers', async () => {
    const { logger: log, lines } = capturedLog('brain');
    const config = loadBrainConfig(undefined, {});
    config.nats.servers = [nats.url];
    config.redis.url = redis.url;
    config.stream.storage = 'memory';
    config.api.enabled = false;
    const service = new BrainService(config, log);
    await service.start();
    try {
      await nats.stop();
      const deadline = Date.now() + 10_000;
      while (!lines.some((line) => line.msg.startsWith('lost NATS')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await nats.restart();
      while (!lines.some((line) => line.msg === 'NATS is back') && Date.now() < deadline + 10_000) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await service.stop();
    }
    const natsLines = lines.filter((line) => /NATS/.test(line.msg)).map((line) => line.msg);
    expect(natsLines).toEqual(['connected to NATS', 'lost NATS: the connection closed; batches wait in the stream until it is back', 'NATS is back']);
    expect(lines.find((line) => line.msg === 'NATS is back')).toMatchObject({ servers: [nats.url] });
  });
});
