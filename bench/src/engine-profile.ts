/**
 * Where the full engine's time goes, from V8's sampling CPU profiler (the inspector protocol,
 * in process): of the samples taken inside Engine.judgeIp, those inside a protocol module's own
 * code (its inspect and everything it calls), those inside the engine's handling of the evidence
 * the modules returned (Engine.onEvidence: trust, clients, peers learned, events), and the rest.
 *
 * The no-detectors case (bench/engine.ts) measures what detection costs the engine in all: the
 * modules and every consequence of what they found (62,000 peers learned, drops, events). This
 * measures the modules' own share of the engine's time directly, the figure the detector-share
 * goal is about. V8 reports inlined functions as frames of their own, so a module function
 * inlined into the engine still counts as the module's. Garbage collection samples sit outside
 * any JavaScript stack and are left out of both sides.
 */
import { Session } from 'node:inspector/promises';

/** The parts of the V8 CPU profile (Profiler.Profile) read here. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface EngineTimeShares {
  /** Samples taken inside Engine.judgeIp (excluding garbage collection). */
  samples: number;
  samplingIntervalUs: number;
  /** The protocol modules' own code: every sample with a module's frame on its stack. */
  modules: number;
  /** Each module folder's share (`detect/<folder>/`), and `shared` for detect/*.js helpers. */
  byModule: Record<string, number>;
  /** Engine.onEvidence and what it calls, outside module code: the engine's work on what the modules found. */
  evidence: number;
  /** Everything else: decoding, flows, hosts, peer look-ups, verdicts. */
  rest: number;
}

/** A module's code: the sensor's dist/detect/<folder>/*.js, or a shared helper in dist/detect/. */
const DETECT_FILE = /\/services\/sensor\/dist\/detect\/(?:([^/]+)\/)?[^/]+\.js$/;

/** The sensor's engine (bench/dist/engine.js is this bench's own). */
function isEngineFrame(node: ProfileNode, functionName: string): boolean {
  return node.callFrame.functionName === functionName && node.callFrame.url.endsWith('/services/sensor/dist/engine.js');
}

/** Runs `work` under the sampling profiler and returns the profile. */
export async function profile(work: () => void, samplingIntervalUs: number): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await session.post('Profiler.start');
    work();
    const { profile: taken } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    await session.post('Profiler.disable');
    return taken;
  } finally {
    session.disconnect();
  }
}

/** Splits the samples inside Engine.judgeIp into modules, evidence handling and the rest. */
export function engineTimeShares(taken: CpuProfile, samplingIntervalUs: number): EngineTimeShares {
  const parent = new Map<number, ProfileNode>();
  const byId = new Map<number, ProfileNode>();
  for (const node of taken.nodes) byId.set(node.id, node);
  for (const node of taken.nodes) for (const child of node.children ?? []) parent.set(child, node);

  // Each node's class, decided once from its stack: the outermost module frame names the module.
  const classOf = new Map<number, string | null>();
  const classify = (leaf: ProfileNode): string | null => {
    let module: string | null = null;
    let underEvidence = false;
    for (let node: ProfileNode | undefined = leaf; node !== undefined; node = parent.get(node.id)) {
      // Module code under onEvidence (its detection counts) is the engine's work on evidence.
      if (isEngineFrame(node, 'judgeIp')) return underEvidence ? 'evidence' : (module ?? 'rest');
      const file = DETECT_FILE.exec(node.callFrame.url);
      if (file !== null) module = file[1] ?? 'shared';
      if (isEngineFrame(node, 'onEvidence')) underEvidence = true;
    }
    return null; // not engine time (the bench loop, the profiler, GC)
  };

  const counts = new Map<string, number>();
  let samples = 0;
  for (const id of taken.samples ?? []) {
    let kind = classOf.get(id);
    if (kind === undefined) {
      kind = classify(byId.get(id)!);
      classOf.set(id, kind);
    }
    if (kind === null) continue;
    samples++;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const share = (count: number): number => (samples === 0 ? 0 : Math.round((count / samples) * 1000) / 1000);
  const evidence = counts.get('evidence') ?? 0;
  const rest = counts.get('rest') ?? 0;
  const byModule: Record<string, number> = {};
  let modules = 0;
  for (const [kind, count] of [...counts].sort((a, b) => b[1] - a[1])) {
    if (kind === 'evidence' || kind === 'rest') continue;
    byModule[kind] = share(count);
    modules += count;
  }
  return { samples, samplingIntervalUs, modules: share(modules), byModule, evidence: share(evidence), rest: share(rest) };
}
