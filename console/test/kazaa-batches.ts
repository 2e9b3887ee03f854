import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CidrSet, DEFAULT_INSIDE_NETWORKS } from '@p2pwall/common';
import { kazaaStartup, writeScenario } from '@p2pwall/lab';
import type { p2pwall } from '@p2pwall/proto';
import { replay } from '../../services/sensor/src/analyze/replay.js';
import { openCapture } from '../../services/sensor/src/capture/open.js';
import { Engine } from '../../services/sensor/src/engine.js';
import { Batcher } from '../../services/sensor/src/uplink/batcher.js';
import { SummaryError, uplinkItem } from '../../services/sensor/src/uplink/summaries.js';

/**
 * The summary batches a sensor at site-a/gw1 publishes for the lab's Kazaa client: its start-up
 * (the synthetic capture the lab's emulator follows: a UDP node-ping flood to 200 cached peers,
 * pongs, TCP connects, an HTTP download) written as a pcap, judged by the sensor's engine, and
 * batched by its uplink, on a clock that ends about now.
 */
export function kazaaBatches(client: string, instance: string, seed: number): p2pwall.v1.ISummaryBatch[] {
  const dir = mkdtempSync(join(tmpdir(), 'pwcs-kazaa-'));
  try {
    const path = join(dir, 'kazaa.pcap');
    // the start-up takes about 9 s of capture time: it ends a few seconds ago
    writeScenario(path, kazaaStartup({ client, seed, start: Date.now() - 12_000 }));
    const batches: p2pwall.v1.ISummaryBatch[] = [];
    const batcher = new Batcher({ sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance } });
    const inside = new CidrSet(DEFAULT_INSIDE_NETWORKS);
    let lastTs = 0;
    const engine = new Engine({}, (event) => {
      lastTs = Math.max(lastTs, event.ts);
      const due = batcher.poll(event.ts);
      if (due) batches.push(due);
      try {
        const item = uplinkItem(event, inside);
        const full = item && batcher.add(item, event.ts);
        if (full) batches.push(full);
      } catch (error) {
        // what the live sensor cannot put on the wire it skips too
        if (!(error instanceof SummaryError)) throw error;
      }
    });
    const source = openCapture(path);
    replay(source, engine);
    source.close();
    const rest = batcher.flush(lastTs);
    if (rest) batches.push(rest);
    return batches;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
