import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCapture } from '../../src/capture/open.js';
import { replay } from '../../src/analyze/replay.js';
import { Engine } from '../../src/engine.js';
import type { EngineEvent } from '../../src/events.js';
import { SHARED_PCAPS, SKIP_SHARED, sharedCaptures } from './support.js';

// Real traffic from nDPI's test suite: BitTorrent, Gnutella, eDonkey and ordinary protocols.
// None of it is FastTrack, so the engine must find no client, learn no peer and drop nothing.
describe.skipIf(SKIP_SHARED !== '')(`real captures in ../shared/pcaps ${SKIP_SHARED}`, () => {
  it.each(sharedCaptures())('%s: parsed to the end, and no FastTrack client, peer or drop', (name) => {
    const events: EngineEvent[] = [];
    const engine = new Engine({}, (event) => events.push(event));
    const source = openCapture(join(SHARED_PCAPS, name));
    replay(source, engine);
    source.close();
    const c = engine.counters;
    expect(c.packets).toBeGreaterThan(0);
    // Every packet was judged: decoded into a flow, or counted as not IP, malformed or a later fragment.
    const flowPackets = events.reduce((sum, e) => sum + (e.event === 'flow' ? e.packetsOut + e.packetsIn : 0), 0);
    expect(flowPackets + c.notIp + c.malformed + c.laterFragments).toBe(c.packets);
    expect(c.malformed / c.packets).toBeLessThan(0.01);
    expect(events.filter((e) => e.event === 'client' || e.event === 'peer')).toEqual([]);
    expect(c.dropped).toBe(0);
    expect(events.some((e) => e.event === 'flow' && e.app !== null)).toBe(false);
  });
});
