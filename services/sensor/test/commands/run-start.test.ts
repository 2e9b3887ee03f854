/**
 * `p2pwall-sensor run` as a new operator starts it: the built binary, the README's minimal
 * config, a fresh namespace. A start that fails says why in one line and leaves no rules behind.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNetns, netnsSkipReason, titleWithSkipReason, type Netns } from '../support/netns.js';

/** nobody:nogroup on Debian. */
const NOBODY = '65534';
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Finished {
  code: number | null;
  stderr: string;
}

/** Runs the sensor binary inside `netns`; SIGTERM once `untilText` shows on stderr (if given). */
function runSensor(netns: Netns, args: string[], env: Record<string, string>, untilText?: string, uid?: string): Promise<Finished> {
  const command = uid ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', process.execPath, CLI, ...args] : [process.execPath, CLI, ...args];
  const child = spawn('ip', ['netns', 'exec', netns.name, ...command], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    // The signal handlers are set just after the line is logged.
    if (untilText && stderr.includes(untilText)) setTimeout(() => child.kill('SIGTERM'), 300);
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killTimer);
      resolve({ code, stderr });
    }),
  );
}

async function chains(netns: Netns): Promise<string> {
  return (await netns.exec('iptables', ['-t', 'security', '-S'])).stdout;
}

describe.skipIf(netnsSkipReason() !== null)('p2pwall-sensor run: the first start', () => {
  let netns: Netns;
  let dir: string;
  let config: string;
  beforeEach(async () => {
    netns = await createNetns('run');
    dir = mkdtempSync(join(tmpdir(), 'p2pw-run-'));
    chmodSync(dir, 0o755);
    config = join(dir, 'sensor.yaml');
    writeFileSync(config, 'site: a\ngateway: gw1\n');
    chmodSync(config, 0o644);
  });
  afterEach(async () => {
    await netns.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(titleWithSkipReason('with the minimal config, makes the storefile folder it needs, starts, and removes its rules on stop'), async () => {
    const storefile = join(dir, 'var', 'lib', 'p2pwall', 'peers.store');
    const run = await runSensor(netns, ['run', '--config', config], { P2PWALL_SENSOR_STOREFILE: storefile, P2PWALL_SENSOR_ONEXIT: 'remove' }, '"sensor started"');
    expect(run.stderr).toContain('"sensor stopped"');
    expect(run.code).toBe(0);
    expect(existsSync(storefile)).toBe(true);
    expect(await chains(netns)).not.toContain('P2PWALL');
  });

  it(titleWithSkipReason('a storefile it cannot create: one line naming the file and the key, exit 1, no stack, and the rules it installed are gone (onExit: keep)'), async () => {
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, '');
    const run = await runSensor(netns, ['run', '--config', config], { P2PWALL_SENSOR_STOREFILE: join(blocker, 'peers.store') });
    expect(run.code).toBe(1);
    const personLines = run.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
    expect(personLines).toEqual([expect.stringMatching(/^p2pwall-sensor run: storefile .*not-a-folder\/peers\.store: .*config key storefile/)]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(await chains(netns)).not.toContain('P2PWALL');
    expect((await netns.exec('ipset', ['list', '-n'])).stdout.trim()).toBe('');
  });

  it(titleWithSkipReason('without root: says it needs root or CAP_NET_ADMIN, not that ipset is missing'), async () => {
    const run = await runSensor(netns, ['rules', 'install', '--config', config], {}, undefined, NOBODY);
    expect(run.stderr).toMatch(/needs root or CAP_NET_ADMIN/);
    expect(run.stderr).not.toMatch(/missing ipset/);
    expect(run.code).not.toBe(0);
  });
});
