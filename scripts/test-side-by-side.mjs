#!/usr/bin/env node
// Runs the whole vitest suite as two vitest processes side by side, each one file at a time:
// the lab's end-to-end files (real namespaces, servers and P2P clients; minutes each, mostly
// waiting on timers and downloads) and every other file. On a 2-core machine the whole suite one
// file at a time took 14–15 minutes of vitest with the machine two-thirds idle; side by side, the
// end-to-end files never overlap one another (their real clients keep a core to themselves
// between the other files' bursts), and the rest runs in their waits.
//
// Why two processes and not two vitest projects: projects share one worker pool, which vitest
// sizes to one worker on two cores, so they ran one after the other.
//
// Output: the first process's lines as they come; the second's are held until the first ends,
// then printed and followed live, so neither report is interleaved with the other. Exit code:
// non-zero when either failed. Arguments after the script go to both (e.g. --reporter=verbose).
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = resolve(root, 'node_modules/vitest/vitest.mjs');
const END_TO_END = 'lab/test/e2e/';
const extra = process.argv.slice(2);

const runs = [
  { name: 'unit and integration', args: ['run', '--no-file-parallelism', `--exclude=${END_TO_END}**`, ...extra] },
  { name: 'end-to-end', args: ['run', '--no-file-parallelism', END_TO_END, ...extra] },
];

let shown = 0;
const children = runs.map((run, index) => {
  const held = [];
  const child = spawn(process.execPath, [vitest, ...run.args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? (process.stdout.isTTY ? '1' : '0') } });
  const forward = (stream, target) =>
    stream.on('data', (chunk) => {
      if (index === shown) target.write(chunk);
      else held.push([target, chunk]);
    });
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  const done = new Promise((resolveDone) => child.on('close', (code, signal) => resolveDone(code ?? (signal ? 1 : 0))));
  return { run, child, held, done };
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const { child } of children) child.kill(signal);
  });
}

const codes = [];
for (const [index, entry] of children.entries()) {
  shown = index;
  process.stdout.write(`\n=== vitest: ${entry.run.name} (${entry.run.args.slice(1).join(' ')}) ===\n`);
  for (const [target, chunk] of entry.held.splice(0)) target.write(chunk);
  codes.push(await entry.done);
}
const failed = children.filter((_, index) => codes[index] !== 0).map(({ run }) => run.name);
process.stdout.write(`\n=== vitest: ${failed.length === 0 ? 'both passed' : `failed: ${failed.join(', ')}`} ===\n`);
process.exitCode = failed.length === 0 ? 0 : 1;
