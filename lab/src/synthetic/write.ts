import { LINKTYPE_ETHERNET, writePcap } from '@p2pwall/sensor';
import type { Scenario } from './scenarios.js';

/** Writes a scenario's frames as a classic pcap (Ethernet, microsecond timestamps). */
export function writeScenario(path: string, scenario: Scenario): void {
  writePcap(path, scenario.frames, { linkType: LINKTYPE_ETHERNET });
}
