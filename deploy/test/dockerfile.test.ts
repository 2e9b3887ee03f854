import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { aptPackages, argsOf, contextSources, parseDockerfile, type Stage } from './dockerfile.js';
import { CHART, REPO } from './helm.js';

// A cheap guard on the Dockerfiles (no Docker engine here to build them): the essentials the
// chart relies on. It does not replace building the images.

const BASE = 'node:22-bookworm-slim';
const read = (path: string) => readFileSync(join(REPO, path), 'utf8');
const chartValues = parse(read('deploy/helm/p2pwall/values.yaml')) as { sensor: { image: { repository: string } }; brain: { image: { repository: string }; runAsUser: number; runAsGroup: number } };
const appVersion = (parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;
const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
const runtime = (stages: Stage[]) => stages.at(-1)!;
const build = (stages: Stage[]) => stages.find((stage) => stage.name === 'build')!;

describe.each([
  { service: 'sensor', repository: chartValues.sensor.image.repository },
  { service: 'brain', repository: chartValues.brain.image.repository },
])('services/$service/Dockerfile', ({ service, repository }) => {
  const text = read(`services/${service}/Dockerfile`);
  const stages = parseDockerfile(text);

  it(`is multi-stage on ${BASE}: a build stage, and a runtime stage that takes only built files from it`, () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((stage) => stage.from)).toEqual(stages.map(() => BASE));
    expect(build(stages)).toBeDefined();
    expect(runtime(stages).name).toBeUndefined();
    // The build stage gathers what runs in /out; the runtime stage takes that and nothing else.
    expect(argsOf(runtime(stages), 'COPY').filter((args) => args.startsWith('--from='))).toEqual(['--from=build /out/ /app/']);
    const assembly = argsOf(build(stages), 'RUN').find((run) => run.startsWith('mkdir -p /out'));
    expect(assembly).toContain(`cp -a services/${service}/dist /out/services/${service}/`);
    expect(assembly).toContain('cp -a packages/common/dist /out/packages/common/');
    // No sources or tests of any workspace in the runtime image.
    expect(assembly).not.toMatch(/\/(src|test)\b/);
  });

  it('installs exactly what the lockfile says, builds, and drops the dev dependencies', () => {
    const runs = argsOf(build(stages), 'RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    // Workspaces can hold node_modules of their own (npm nests a dependency there when the root
    // holds another version): the runtime needs them too.
    expect(runs).toContain('if [ -d "$ws/node_modules" ]; then cp -a "$ws/node_modules" "/out/$ws/"; fi;');
    expect(runs).toContain('npm run build -w proto');
    expect(runs).toContain(`tsc -b services/${service}`);
    expect(runs).toMatch(/npm prune --omit=dev/);
    expect(argsOf(runtime(stages), 'RUN').join('\n')).not.toMatch(/npm (ci|install)/);
  });

  it('copies the package.json of every workspace before npm ci, which needs them all', () => {
    const sources = contextSources(build(stages));
    for (const workspace of workspaces) expect(sources, workspace).toContain(`${workspace}/package.json`);
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const stage of stages) {
      for (const source of contextSources(stage)) {
        expect(existsSync(join(REPO, source)), source).toBe(true);
        const top = source.replace(/\/$/, '').split('/')[0]!;
        expect(ignored, source).not.toContain(top);
      }
    }
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
  });

  it(`documents the build command with the chart's default image ${repository}:${appVersion}`, () => {
    expect(text).toContain(`docker build -f services/${service}/Dockerfile -t ${repository}:${appVersion} .`);
  });

  it(`puts p2pwall-${service} on PATH and runs it as the entrypoint`, () => {
    expect(argsOf(runtime(stages), 'RUN').join('\n')).toContain(`/usr/local/bin/p2pwall-${service}`);
    expect(argsOf(runtime(stages), 'ENTRYPOINT')).toEqual([`["p2pwall-${service}"]`]);
  });
});

describe('services/sensor/Dockerfile', () => {
  const stages = parseDockerfile(read('services/sensor/Dockerfile'));

  it('builds the nfqueue binding against the image\'s own Node headers', () => {
    expect(aptPackages(build(stages))).toEqual(expect.arrayContaining(['libnetfilter-queue-dev', 'g++', 'make', 'python3']));
    expect(argsOf(build(stages), 'ENV')).toContain('npm_config_nodedir=/usr/local');
    expect(argsOf(build(stages), 'RUN').join('\n')).not.toContain('--ignore-scripts');
  });

  it('ships libnetfilter-queue1, iptables and ipset, and no compiler', () => {
    const packages = aptPackages(runtime(stages));
    expect(packages).toEqual(expect.arrayContaining(['libnetfilter-queue1', 'iptables', 'ipset']));
    expect(packages).not.toEqual(expect.arrayContaining(['g++']));
  });

  it('offers the legacy iptables tools in the directory the chart puts first in PATH', () => {
    const runs = argsOf(runtime(stages), 'RUN').join('\n');
    expect(runs).toContain('/usr/local/lib/p2pwall/iptables-legacy');
    expect(read('deploy/helm/p2pwall/templates/sensor-daemonset.yaml')).toContain('/usr/local/lib/p2pwall/iptables-legacy:');
  });
});

describe('services/brain/Dockerfile', () => {
  const stages = parseDockerfile(read('services/brain/Dockerfile'));

  it('runs as the non-root numeric user the chart expects', () => {
    const users = argsOf(runtime(stages), 'USER');
    expect(users).toEqual([`${chartValues.brain.runAsUser}:${chartValues.brain.runAsGroup}`]);
    expect(chartValues.brain.runAsUser).toBeGreaterThan(0);
  });

  it('carries the p2pwall CLI that the helm test pod runs', () => {
    expect(argsOf(runtime(stages), 'RUN').join('\n')).toContain('> /usr/local/bin/p2pwall ');
    expect(read('deploy/helm/p2pwall/templates/tests/brain-test.yaml')).toMatch(/p2pwall health\n\s+p2pwall sensors/);
  });
});

describe('parseDockerfile', () => {
  it('joins continuation lines, skips comments between them, and groups instructions by stage', () => {
    const stages = parseDockerfile('ARG X=1\nFROM a:1 AS build\nRUN one \\\n  # note\n  two\nFROM b:2\nUSER 5\n');
    expect(stages).toEqual([
      { from: 'a:1', name: 'build', instructions: [{ keyword: 'RUN', args: 'one two', line: 3 }] },
      { from: 'b:2', name: undefined, instructions: [{ keyword: 'USER', args: '5', line: 7 }] },
    ]);
    expect(aptPackages({ from: 'x', name: undefined, instructions: [{ keyword: 'RUN', args: 'apt-get update && apt-get install -y --no-install-recommends a b && rm -rf c', line: 1 }] })).toEqual(['a', 'b']);
  });

  it('refuses a file whose instructions it cannot read', () => {
    expect(() => parseDockerfile('RUN x\n')).toThrow(/before the first FROM/);
    expect(() => parseDockerfile('FROM a\nRUN x \\\n')).toThrow(/continuation/);
  });
});
