import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SENSOR_CLI } from '../analyze/support.js';

/** `p2pwall-sensor config` (the built binary) prints the loaded configuration without its secrets. */

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-sensor-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sensor(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('P2PWALL_')));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SENSOR_CLI, ...args], { env: { ...base, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

describe('p2pwall-sensor config', () => {
  it('shows passwords, tokens and URL passwords as (redacted), and everything else as loaded', async () => {
    const path = join(dir, 'sensor.yaml');
    writeFileSync(path, 'site: hq\ngateway: gw1\nuplink:\n  nats:\n    servers: ["nats://alice:nats-pw-secret@127.0.0.1:4222"]\n  redis:\n    url: redis://127.0.0.1:6379\n    password: redis-pw-secret\n');
    const run = await sensor(['config', '--config', path], { P2PWALL_SENSOR_UPLINK__NATS__TOKEN: 'env-token-secret' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/nats-pw-secret|redis-pw-secret|env-token-secret/);
    const shown = JSON.parse(run.stdout) as { site: string; uplink: { nats: { servers: string[] }; redis: { password: string; url: string } } };
    expect(shown.site).toBe('hq');
    expect(shown.uplink.nats.servers).toEqual(['nats://alice:(redacted)@127.0.0.1:4222']);
    expect(shown.uplink.redis).toMatchObject({ url: 'redis://127.0.0.1:6379', password: '(redacted)' });
  });
});
