import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from './helm.js';
import type { Container } from './pods.js';

/** What a container's process would be started with: its arguments and environment. */
export interface Started {
  argv: string[];
  env: Record<string, string>;
}

interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}

export interface PodFacts {
  nodeName: string;
  hostIP: string;
  /** Secrets the pod can read: the chart's own, plus any the operator made. */
  secrets: Manifest[];
}

/** The container's environment as the kubelet would build it (downward API and Secrets resolved). */
export function containerEnv(container: Container, facts: PodFacts): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (container.env ?? []) as EnvEntry[]) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.fieldRef) env[entry.name] = fieldValue(entry.valueFrom.fieldRef.fieldPath, facts);
    else if (entry.valueFrom?.secretKeyRef) env[entry.name] = secretValue(entry.valueFrom.secretKeyRef, facts.secrets);
    else throw new Error(`env ${entry.name}: no value the test can resolve`);
  }
  return env;
}

function fieldValue(path: string, facts: PodFacts): string {
  if (path === 'spec.nodeName') return facts.nodeName;
  if (path === 'status.hostIP') return facts.hostIP;
  throw new Error(`fieldRef ${path} is not simulated`);
}

function secretValue(ref: { name: string; key: string }, secrets: Manifest[]): string {
  const secret = secrets.find((s) => s.metadata.name === ref.name);
  const stringData = secret?.['stringData'] as Record<string, string> | undefined;
  const data = secret?.['data'] as Record<string, string> | undefined;
  const value = stringData?.[ref.key] ?? (data?.[ref.key] !== undefined ? Buffer.from(data[ref.key]!, 'base64').toString() : undefined);
  if (value === undefined) throw new Error(`secret ${ref.name} has no key ${ref.key}`);
  return value;
}

/**
 * Runs the container's command with /bin/sh, as the image would, but with `program` replaced by
 * a stand-in on PATH that records the arguments and environment it was started with.
 */
export async function startContainer(container: Container & { command?: string[] }, facts: PodFacts, program: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pwall-cmd-'));
  try {
    const record = join(dir, 'started.json');
    await writeFile(join(dir, program), `#!/bin/sh\nexec "${process.execPath}" -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify({ argv: process.argv.slice(2), env: process.env }))' "${record}" "$@"\n`);
    await chmod(join(dir, program), 0o755);
    const argv = [...(container.command ?? []), ...(container.args ?? [])];
    if (argv.length === 0) throw new Error(`container ${container.name} has no command`);
    const env = { ...containerEnv(container, facts), PATH: `${dir}:/usr/bin:/bin` };
    await new Promise<void>((done, fail) => {
      execFile(argv[0]!, argv.slice(1), { env }, (error, _stdout, stderr) => (error ? fail(new Error(`${argv.join(' ')}: ${stderr || error.message}`)) : done()));
    });
    return JSON.parse(await readFile(record, 'utf8')) as Started;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
