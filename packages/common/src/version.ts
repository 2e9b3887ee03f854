import { readFileSync } from 'node:fs';

/** The version in the package.json that sits one folder above a compiled module (`dist/..`). */
export function packageVersion(moduleUrl: string): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8'));
  if (typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string') {
    return manifest.version;
  }
  return '0.0.0';
}
