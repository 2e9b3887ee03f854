/**
 * A real nats-server (JetStream, file store) in the lab's internet namespace, with the summaries
 * stream the brain would create, so the sensor's uplink publishes for real during a ladder: issue
 * 15 item 3 asks whether GC of the uplink and telemetry stalls verdicts, measured before deciding
 * on a worker per queue. The stream is made, and later counted, by small scripts run inside the
 * namespace (the server's address is the lab's, not reachable from the host).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNats, type Lab, type NatsServer } from '@p2pwall/lab';

/** The lab's router address in the internet namespace: reachable from the gateway. */
const HOST = '198.18.0.254';

const PRELUDE = `
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, StorageType, DiscardPolicy } from '@nats-io/jetstream';
import { STREAMS, SUBJECTS } from '@p2pwall/common';
const nc = await connect({ servers: process.argv[2] });
const jsm = await jetstreamManager(nc);
`;
const MAKE_STREAM = `${PRELUDE}
await jsm.streams.add({ name: STREAMS.summaries, subjects: [SUBJECTS.allSummaries, SUBJECTS.allHeartbeats], storage: StorageType.File, max_bytes: 2 * 1024 ** 3, discard: DiscardPolicy.Old });
await nc.close();
`;
const COUNT_MESSAGES = `${PRELUDE}
const info = await jsm.streams.info(STREAMS.summaries);
console.log(JSON.stringify({ messages: info.state.messages, bytes: info.state.bytes }));
await nc.close();
`;

/** Runs a script with the NATS URL in the internet namespace; returns its stdout. */
async function runScript(lab: Lab, url: string, code: string): Promise<string> {
  // Beside the bench's own dist/ files, so its imports resolve through the bench's node_modules.
  const script = join(fileURLToPath(new URL('.', import.meta.url)), `uplink-script-${process.pid}.mjs`);
  writeFileSync(script, code);
  try {
    return (await lab.exec(lab.inet, process.execPath, [script, url], { timeoutMs: 20_000 })).stdout;
  } finally {
    rmSync(script, { force: true });
  }
}

export class UplinkServer {
  private constructor(
    private readonly lab: Lab,
    readonly nats: NatsServer,
  ) {}

  get url(): string {
    return this.nats.url;
  }

  static async start(lab: Lab): Promise<UplinkServer> {
    const nats = await startNats({ namespace: lab.inet, host: HOST });
    try {
      await runScript(lab, nats.url, MAKE_STREAM);
    } catch (error) {
      await nats.cleanup();
      throw error;
    }
    return new UplinkServer(lab, nats);
  }

  /** What the stream holds so far: proof the uplink published, and how much. */
  async stored(): Promise<{ messages: number; bytes: number }> {
    return JSON.parse((await runScript(this.lab, this.url, COUNT_MESSAGES)).trim()) as { messages: number; bytes: number };
  }
}
