/**
 * The README's commands, as a new operator types them after one `scripts/setup`: the bare
 * commands run this checkout's builds, and nothing the README says can fall through to the npm
 * registry (`npx <name>` fetches a package of that name when no local one exists).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMMANDS: Record<string, string> = {
  'p2pwall-sensor': 'services/sensor/dist/cli.js',
  'p2pwall-brain': 'services/brain/dist/cli.js',
  p2pwall: 'services/brain/dist/ctl/main.js',
  'p2pwall-lab': 'lab/dist/cli.js',
};

describe('the README quick start: commands after scripts/setup', () => {
  const binDir = mkdtempSync(join(tmpdir(), 'p2pw-bin-'));
  afterAll(() => rmSync(binDir, { recursive: true, force: true }));

  it('every `npx <name>` in the README names a package this checkout has installed', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const names = [...readme.matchAll(/\bnpx\s+(?:--\S+\s+)*([@\w./-]+)/g)].map((match) => match[1]!);
    expect(names.length).toBeGreaterThan(0);
    const unknown = names.filter((name) => {
      try {
        realpathSync(join(ROOT, 'node_modules/.bin', name));
        return false;
      } catch {
        return true;
      }
    });
    expect(unknown).toEqual([]);
    expect(readme).not.toMatch(/npx p2pwall/);
  });

  it('scripts/link-commands puts the four commands on a PATH, each running this checkout\'s build', () => {
    const output = execFileSync(join(ROOT, 'scripts/link-commands'), { env: { ...process.env, P2PWALL_BIN_DIR: binDir }, encoding: 'utf8' });
    expect(output).toContain(`linked into ${binDir}`);
    for (const [command, file] of Object.entries(COMMANDS)) {
      expect(realpathSync(join(ROOT, 'node_modules/.bin', command))).toBe(realpathSync(join(ROOT, file)));
      expect(readlinkSync(join(binDir, command))).toBe(realpathSync(join(ROOT, file)));
      // Through the PATH alone, as a shell would find it (the file's shebang and mode must work).
      const help = execFileSync(command, ['--help'], { env: { PATH: `${binDir}:/usr/bin:/bin` }, encoding: 'utf8' });
      expect(help).toMatch(/Usage:/);
    }
  });

  it('leaves alone a file of the same name that is not its link', () => {
    const other = join(binDir, 'p2pwall-lab');
    rmSync(other, { force: true });
    writeFileSync(other, '#!/bin/sh\necho not ours\n', { mode: 0o755 });
    const result = execFileSync(join(ROOT, 'scripts/link-commands'), { env: { ...process.env, P2PWALL_BIN_DIR: binDir }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(result).not.toContain('p2pwall-lab linked');
    expect(readFileSync(other, 'utf8')).toContain('not ours');
  });
});
