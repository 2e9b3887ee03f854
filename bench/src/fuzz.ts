/**
 * The nightly fuzz run: at least 1,000,000 fuzzed frames (lab/src/synthetic/fuzz.ts) through the
 * link layer, the decoder and the engine, in rounds of fresh seeds. `npm test` runs a fast sample
 * of the same generator (services/sensor/test/fuzz/engine-fuzz.test.ts).
 *
 *   npm run fuzz                                    # from the repository root, after npm run build
 *   npm run fuzz -w bench -- --frames 5000000 --seed 42 --rounds 4 --out results/fuzz.json
 *
 * Exit status 1 when a frame throws past the decoder, gets no verdict, or the counts disagree
 * (every frame counted once, every malformed one counted as malformed, nothing left after the
 * flush); the failing seed and frame are printed so the run can be replayed.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FuzzFailure, fuzzEngine, type FuzzReport } from '@p2pwall/lab';

const { values: args } = parseArgs({
  options: {
    frames: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '4' },
    seed: { type: 'string' },
    out: { type: 'string' },
  },
});

const total = Number(args.frames);
const rounds = Math.max(1, Number(args.rounds));
if (!(Number.isInteger(total) && total >= 1)) throw new Error(`--frames must be a whole number >= 1, got ${args.frames}`);
// A fresh seed each night unless one is given: the printed seed replays a failure.
const firstSeed = args.seed === undefined ? Date.now() >>> 0 : Number(args.seed) >>> 0;

/** What must hold of every round, whatever the input. */
function problems(report: FuzzReport): string[] {
  const found: string[] = [];
  const e = report.engine;
  if (e.packets !== report.frames) found.push(`the engine counted ${e.packets} packets of ${report.frames} frames`);
  if (e.malformed !== report.linkMalformed + report.decoded.malformed) found.push(`malformed ${e.malformed}, expected ${report.linkMalformed} (link) + ${report.decoded.malformed} (IP)`);
  if (e.notIp !== report.notIp) found.push(`not-IP ${e.notIp}, expected ${report.notIp}`);
  if (e.laterFragments !== report.decoded.laterFragment) found.push(`later fragments ${e.laterFragments}, expected ${report.decoded.laterFragment}`);
  if (report.verdicts.accept + report.verdicts.drop !== report.decoded.ok + report.decoded.malformed + report.decoded.laterFragment) found.push('not every IP packet got one verdict');
  if (report.flowsLeft !== 0) found.push(`${report.flowsLeft} flows left after the flush`);
  if (report.moduleBufferBytesLeft !== 0) found.push(`${report.moduleBufferBytesLeft} module buffer bytes held after the flush`);
  if (report.decoded.ok === 0 || report.decoded.malformed === 0 || report.decoded.laterFragment === 0 || report.linkMalformed === 0) found.push('an outcome was never exercised');
  return found;
}

const reports: FuzzReport[] = [];
let failed = false;
for (let round = 0; round < rounds; round++) {
  const seed = (firstSeed + round) >>> 0;
  const frames = Math.ceil(total / rounds);
  try {
    const report = fuzzEngine({ frames, seed });
    reports.push(report);
    const found = problems(report);
    const rate = Math.round(report.frames / report.seconds).toLocaleString('en-US');
    console.log(
      `seed ${seed}: ${report.frames.toLocaleString('en-US')} frames in ${report.seconds.toFixed(1)} s (${rate}/s); ` +
        `IP ok ${report.decoded.ok}, malformed ${report.decoded.malformed} + ${report.linkMalformed} at the link, later fragments ${report.decoded.laterFragment}, not IP ${report.notIp}; ` +
        `drops ${report.verdicts.drop}, evidence ${report.engine.evidence}, peers ${report.engine.peers}, module buffers refused ${report.engine.moduleBuffersRefused}`,
    );
    for (const problem of found) console.error(`seed ${seed}: ${problem}`);
    if (found.length > 0) failed = true;
  } catch (error) {
    failed = true;
    console.error(error instanceof FuzzFailure ? error.message : error);
  }
}
const frames = reports.reduce((sum, report) => sum + report.frames, 0);
console.log(`${failed ? 'FAILED' : 'ok'}: ${frames.toLocaleString('en-US')} frames, seeds ${firstSeed}..${(firstSeed + rounds - 1) >>> 0}`);
if (args.out) writeFileSync(args.out, `${JSON.stringify({ node: process.version, firstSeed, rounds, frames, failed, reports }, null, 2)}\n`);
process.exitCode = failed ? 1 : 0;
