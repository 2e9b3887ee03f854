import { LINK_MALFORMED, LINK_NOT_IP, locateIp } from '../capture/link.js';
import type { PacketSource } from '../capture/source.js';
import type { Engine } from '../engine.js';

export interface ReplayProgress {
  packets: number;
}

/**
 * Drives the engine with every packet of a source, in the source's order, with the capture's
 * timestamps as the engine's clock; ends all flows at the end so each gets its flow event.
 */
export function replay(source: PacketSource, engine: Engine, onProgress?: (progress: ReplayProgress) => void): void {
  let lastTs = 0;
  let packets = 0;
  for (let packet = source.next(); packet !== null; packet = source.next()) {
    packets++;
    const data = packet.data;
    const offset = locateIp(packet.linkType, data);
    if (offset === LINK_NOT_IP) engine.countNotIp();
    else if (offset === LINK_MALFORMED) engine.countMalformedFrame();
    else engine.judgeIp(data, offset, data.length, packet.ts, Math.max(packet.wireLength - offset, data.length - offset));
    lastTs = packet.ts;
    if (onProgress && (packets & 0xffff) === 0) onProgress({ packets });
  }
  engine.flush(lastTs);
}
