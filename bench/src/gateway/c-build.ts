/**
 * Compiles the C reference consumer (gateway/c-consumer.c) with the system compiler at run time,
 * so the yardstick is built with this machine's libnetfilter_queue and libmnl, as the addon is.
 * The source stays in src/ (tsc does not copy it); the binary goes to the run's work folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** From dist/gateway/ (where this runs) back to the source beside it in src/gateway/. */
export const C_CONSUMER_SOURCE = fileURLToPath(new URL('../../src/gateway/c-consumer.c', import.meta.url));

const HEADERS: [string, string][] = [
  ['/usr/include/libnetfilter_queue/libnetfilter_queue.h', 'libnetfilter-queue-dev'],
  ['/usr/include/libmnl/libmnl.h', 'libmnl-dev'],
];

/** Returns the path of the built binary; throws with what to install when the compiler or headers are missing. */
export function buildCConsumer(outDir: string): string {
  const compiler = process.env.CC ?? 'cc';
  const missing = HEADERS.filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg);
  if (missing.length > 0) throw new Error(`the C reference consumer needs ${missing.join(' and ')} (scripts/setup installs them: apt-get install ${missing.join(' ')})`);
  if (!existsSync(C_CONSUMER_SOURCE)) throw new Error(`the C reference consumer's source is missing: ${C_CONSUMER_SOURCE}`);
  const binary = join(outDir, 'c-consumer');
  try {
    execFileSync(compiler, ['-O2', '-Wall', '-o', binary, C_CONSUMER_SOURCE, '-lnetfilter_queue', '-lmnl'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error(`no C compiler (${compiler}) for the C reference consumer: apt-get install build-essential (scripts/setup does)`);
    throw new Error(`compiling the C reference consumer failed: ${err.stderr?.toString().trim() ?? err.message}`);
  }
  return binary;
}
