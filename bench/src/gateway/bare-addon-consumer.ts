/**
 * The accept-everything consumer of p2pwall's own addon (@p2pwall/nfq): one JavaScript call per
 * batch and nothing behind it, the floor the sensor stands on when `queue.binding` is `addon`.
 * Run inside a gateway namespace:
 *
 *   node dist/gateway/bare-addon-consumer.js --log FILE [--queue 0] [--verdict accept|repeat]
 *        [--copy-range N] [--maxlen N] [--max-batch N] [--buffer N]
 *
 * `accept` answers NF_ACCEPT; `repeat` answers as the sensor does, NF_REPEAT with the packet's
 * mark plus the accepted bit (the packet re-enters the hook and the p2pwall chain once more).
 * Writes `{"ts","event":"ready"}` to the log once the queue is bound; on SIGTERM or SIGINT prints
 * `{"packets": n, ...stats}` (the addon's own counters, ENOBUFS included) and exits.
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NfqQueue } from '@p2pwall/nfq';

const { values: args } = parseArgs({
  options: {
    log: { type: 'string' },
    queue: { type: 'string', default: '0' },
    verdict: { type: 'string', default: 'accept' },
    mark: { type: 'string', default: '0x10000000' },
    'copy-range': { type: 'string', default: '9216' },
    maxlen: { type: 'string', default: '16384' },
    'max-batch': { type: 'string', default: '256' },
    buffer: { type: 'string', default: String(64 * 1024 * 1024) },
  },
});
if (args.verdict !== 'accept' && args.verdict !== 'repeat') throw new RangeError('--verdict: accept or repeat');
const mark = Number(args.mark);
const settings = {
  copyRange: Number(args['copy-range']),
  maxLength: Number(args.maxlen),
  maxBatch: Number(args['max-batch']),
  socketBufferBytes: Number(args.buffer),
  // Losses must show in the kernel's counters (a fail-open queue passes them uncounted).
  whenFull: 'drop' as const,
};
const log = (event: string, fields: Record<string, unknown> = {}): void => {
  if (args.log) appendFileSync(args.log, `${JSON.stringify({ ts: Date.now(), event, ...fields })}\n`);
};

let packets = 0;
const { ACCEPT, REPEAT } = NfqQueue;
const queue =
  args.verdict === 'accept'
    ? NfqQueue.open(Number(args.queue), settings, (count, q) => {
        packets += count;
        q.verdicts.fill(ACCEPT, 0, count);
      })
    : NfqQueue.open(Number(args.queue), settings, (count, q) => {
        packets += count;
        for (let i = 0; i < count; i++) {
          q.verdicts[i] = REPEAT;
          q.verdictMarks[i] = (q.marks[i]! | mark) >>> 0;
        }
      });
log('ready', { queue: queue.queue, verdict: args.verdict, ...settings });

const finish = (): void => {
  const stats = queue.stats();
  queue.close();
  log('summary', { ...stats, packets });
  process.stdout.write(`${JSON.stringify({ ...stats, packets, verdict: args.verdict })}\n`);
  process.exit(0);
};
process.once('SIGTERM', finish);
process.once('SIGINT', finish);
