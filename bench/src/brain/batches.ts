import { randomBytes } from 'node:crypto';
import { SUBJECTS } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';

/**
 * Pre-built summary batches for the ingest benchmark: what several sensors would send. Each batch
 * holds `flowsPerBatch` flows of inside hosts (10.s.h.h) to outside endpoints in 198.18/15; one
 * flow in ten is a FastTrack flow (app + rule) of one of a few clients, so the fan-out and host
 * rules, the Redis windows and some decisions are exercised, not only the decode.
 */

export interface PreparedBatch {
  subject: string;
  msgId: string;
  data: Uint8Array;
  flows: number;
}

function ip4(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.from([a, b, c, d]);
}

export function buildBatches(options: { batches: number; flowsPerBatch: number; sites: number; seed?: number }): PreparedBatch[] {
  let state = options.seed ?? 1;
  // mulberry32: every bit of the output varies (a bare LCG's low bits repeat with short periods,
  // so `% 256` would send benign hosts to the same few addresses over and over and make them look
  // like P2P clients to the payload-free rules).
  const rand = (n: number) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const sensors = Array.from({ length: options.sites }, (_, s) => ({ site: `s${s}`, gateway: 'gw1', queue: 0, instance: randomBytes(8).toString('hex') }));
  const sequences = sensors.map(() => 0);
  const now = Date.now();
  const out: PreparedBatch[] = [];
  for (let b = 0; b < options.batches; b++) {
    const s = b % sensors.length;
    const sensor = sensors[s]!;
    const sequence = ++sequences[s]!;
    const flows: p2pwall.v1.IFlowSummary[] = [];
    for (let f = 0; f < options.flowsPerBatch; f++) {
      const p2p = rand(10) === 0;
      const host = p2p ? rand(8) : rand(2000);
      const outside = p2p ? ip4(198, 18, 1, rand(250)) : ip4(198, 19, rand(256), rand(256));
      const udp = rand(3) === 0;
      flows.push({
        insideIp: ip4(10, s, host >> 8, host & 255),
        insidePort: 30_000 + rand(30_000),
        outsideIp: outside,
        outsidePort: p2p ? 1214 + rand(4000) : [80, 443, 53, 8080][rand(4)]!,
        protocol: udp ? 17 : 6,
        initiatorInside: true,
        firstSeenMs: now - 2000,
        lastSeenMs: now - 1000,
        packetsOut: 3,
        bytesOut: 180,
        packetsIn: rand(2) ? 2 : 0,
        bytesIn: 120,
        answered: rand(2) === 0,
        app: p2p ? 'fasttrack' : '',
        rules: p2p ? ['fasttrack/encrypted-handshake'] : [],
        verdict: p2pwall.v1.Verdict.VERDICT_ACCEPT,
        reason: '',
        droppedPackets: 0,
        wouldDrop: false,
        end: p2pwall.v1.FlowEnd.FLOW_END_IDLE,
      });
    }
    const data = p2pwall.v1.SummaryBatch.encode({ sensor, sequence, createdMs: now, flows, events: [] }).finish();
    out.push({ subject: SUBJECTS.summaries(sensor.site, sensor.gateway), msgId: `${sensor.instance}:${sequence}`, data, flows: flows.length });
  }
  return out;
}
