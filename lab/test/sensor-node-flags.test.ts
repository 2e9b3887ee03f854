import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sensorCliPath, sensorNodeFlags } from '../src/index.js';

const DOCKERFILE = fileURLToPath(new URL('../../services/sensor/Dockerfile', import.meta.url));

describe("the sensor's Node flags: its shebang is their one definition", () => {
  it('reads them from the built CLI, and this Node takes them', () => {
    const flags = sensorNodeFlags();
    expect(flags).toContain('--initial-old-space-size=192');
    expect(readFileSync(sensorCliPath(), 'utf8').split('\n', 1)[0]).toBe(`#!/usr/bin/env -S node ${flags.join(' ')}`);
    // An unknown V8 flag makes node exit with "bad option"; these start a process that runs.
    expect(execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write("ran")'], { encoding: 'utf8' })).toBe('ran');
    expect(() => execFileSync(process.execPath, ['--no-such-v8-flag-p2pwall', '-e', '0'], { stdio: 'pipe' })).toThrow(/bad option/);
  });

  it("the image's p2pwall-sensor runs the CLI through that shebang, not `node cli.js` (which would drop them)", () => {
    const dockerfile = readFileSync(DOCKERFILE, 'utf8');
    expect(dockerfile).toContain(String.raw`exec /app/services/sensor/dist/cli.js "$@"`);
    expect(dockerfile).not.toMatch(/exec node [^\n]*sensor\/dist\/cli\.js/);
  });
});
