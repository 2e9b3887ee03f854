/**
 * The accept-everything NFQUEUE consumer: the `nfqueue` binding with nothing behind it, the
 * floor the sensor stands on. Run inside a gateway namespace:
 *
 *   node dist/gateway/bare-consumer.js --log FILE [--queue 0] [--buffer 67108864] [--verdict accept|repeat]
 *
 * `accept` answers NF_ACCEPT (the packet goes on at once); `repeat` answers as the sensor does,
 * NF_REPEAT with the packet's mark plus the accepted bit, so the packet re-enters the hook and
 * the p2pwall chain once more (that isolates the kernel's share of the sensor's cost from the
 * engine's). Writes `{"ts","event":"ready"}` to the log once the queue is bound; on SIGTERM or
 * SIGINT prints `{"packets": n}` and exits. The binding loads from the sensor package's
 * dependencies, as the sensor loads it (a CommonJS native addon, through createRequire).
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

interface BindingPacket {
  info: { id: number; nfmark: number };
  setVerdict(verdict: number, mark?: number): void;
}

interface Binding {
  NF_ACCEPT: number;
  NF_REPEAT: number;
  createQueueHandler(queue: number, socketBufferBytes: number, callback: (packet: BindingPacket) => void): unknown;
}

const { values: args } = parseArgs({
  options: {
    log: { type: 'string' },
    queue: { type: 'string', default: '0' },
    buffer: { type: 'string', default: String(64 * 1024 * 1024) },
    verdict: { type: 'string', default: 'accept' },
    mark: { type: 'string', default: '0x10000000' },
  },
});
const queue = Number(args.queue);
const buffer = Number(args.buffer);
const mark = Number(args.mark);
if (args.verdict !== 'accept' && args.verdict !== 'repeat') throw new RangeError('--verdict: accept or repeat');
const log = (event: string, fields: Record<string, unknown> = {}): void => {
  if (args.log) appendFileSync(args.log, `${JSON.stringify({ ts: Date.now(), event, ...fields })}\n`);
};

const sensorManifest = createRequire(import.meta.url).resolve('@p2pwall/sensor/package.json');
const binding = createRequire(sensorManifest)('nfqueue') as Binding;
const { NF_ACCEPT, NF_REPEAT } = binding;
let packets = 0;

if (args.verdict === 'accept') {
  binding.createQueueHandler(queue, buffer, (packet) => {
    packets++;
    packet.setVerdict(NF_ACCEPT);
  });
} else {
  binding.createQueueHandler(queue, buffer, (packet) => {
    packets++;
    packet.setVerdict(NF_REPEAT, (packet.info.nfmark | mark) >>> 0);
  });
}
log('ready', { queue, buffer, verdict: args.verdict });

const finish = (): void => {
  log('summary', { packets });
  process.stdout.write(`${JSON.stringify({ packets, verdict: args.verdict })}\n`);
  process.exit(0);
};
process.once('SIGTERM', finish);
process.once('SIGINT', finish);
