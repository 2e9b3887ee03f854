import { fileURLToPath } from 'node:url';
import type { Lab } from './netns/lab.js';

/** The built `p2pwall` CLI; from lab/src and lab/dist alike. */
export const CTL_CLI = fileURLToPath(new URL('../../services/brain/dist/ctl/main.js', import.meta.url));

/**
 * Runs the built `p2pwall` CLI inside a lab namespace (usually the internet, where the brain's
 * API listens), as an operator's workstation would; never throws for a non-zero exit.
 */
export async function runP2pwall(lab: Lab, namespace: string, api: { url: string; token: string }, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await lab.exec(namespace, 'env', [`P2PWALL_URL=${api.url}`, `P2PWALL_TOKEN=${api.token}`, process.execPath, CTL_CLI, ...args], { check: false, timeoutMs: 30_000 });
  return { code: result.code ?? -1, stdout: result.stdout, stderr: result.stderr };
}
