/** What protocol modules return over a real capture: for look-alike tests on ordinary traffic. */
import { join } from 'node:path';
import { LINK_MALFORMED, LINK_NOT_IP, locateIp } from '../../src/capture/link.js';
import { openCapture } from '../../src/capture/open.js';
import { SHARED_PCAPS } from '../analyze/support.js';
import type { DetectorHarness } from './detector-harness.js';

/** Every rule the harness's modules returned over a capture's TCP and UDP packets. */
export function evidenceIn(capture: string, h: DetectorHarness): string[] {
  const source = openCapture(join(SHARED_PCAPS, capture));
  const rules: string[] = [];
  try {
    for (let packet = source.next(); packet !== null; packet = source.next()) {
      const offset = locateIp(packet.linkType, packet.data);
      if (offset === LINK_NOT_IP || offset === LINK_MALFORMED) continue;
      const ip = packet.data.slice(offset);
      const protocol = ip[0]! >> 4 === 4 ? ip[9] : ip[6];
      if (protocol !== 6 && protocol !== 17) continue;
      try {
        rules.push(...h.feed(ip).evidence.map((evidence) => evidence.rule));
      } catch {
        // Fragments and packets the harness cannot decode: the engine skips them as well.
      }
    }
  } finally {
    source.close();
  }
  return rules;
}
