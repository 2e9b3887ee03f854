import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/pcaps beside the repository: real captures that must not be copied into it. */
export const SHARED_PCAPS = fileURLToPath(new URL('../../../../../shared/pcaps/', import.meta.url));
export const HAVE_SHARED_PCAPS = existsSync(SHARED_PCAPS);
export const SKIP_SHARED = HAVE_SHARED_PCAPS ? '' : `skipped: ${SHARED_PCAPS} is absent (the shared folder beside the repository holds the real captures)`;

export function sharedCaptures(): string[] {
  if (!HAVE_SHARED_PCAPS) return [];
  return readdirSync(SHARED_PCAPS).filter((name) => /\.(pcap|pcapng)$/.test(name)).sort();
}

export const SENSOR_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
