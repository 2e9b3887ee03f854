/**
 * The flow table reuses the objects of flows that ended (track/flow-table.ts): nothing a flow
 * leaves behind may show through in the next one, and nothing already emitted may change.
 */
import { udp } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/decode/address.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/decode/packet.js';
import type { EngineEvent } from '../../src/events.js';
import { Engine } from '../../src/engine.js';
import { Flow, Verdict, withRule } from '../../src/track/flow.js';
import { FlowTable } from '../../src/track/flow-table.js';
import { CLIENT, PEER, T0, ping } from '../support/gateway.js';

/** The fields a flow's user sees: all but the table's own (slot, LRU links and class) and the test name. */
function userFields(flow: Flow): Record<string, unknown> {
  const { slot: _slot, newer: _newer, older: _older, lruClass: _lruClass, key: _key, ...rest } = flow;
  return JSON.parse(JSON.stringify(rest, (name, value: unknown) => (name === 'host' && value !== null ? 'host' : value))) as Record<string, unknown>;
}

describe('Flow.reset', () => {
  it('leaves the object as the constructor makes it, whatever the flow before it was', () => {
    const used = new Flow('', IPPROTO_TCP, 6, 'old-in', 1, 'old-out', 2, false);
    Object.assign(used, { initiatorInside: false, startedFresh: true, app: 'x', labels: 3, ownLabels: 1, moduleStates: [{}], peersLearned: 4, verdict: Verdict.drop, reason: 'signature', droppedPackets: 9, wouldDrop: true, timeLockCandidate: true, peerVersion: 7, leadsToPeer: true, leadsToPeerUntil: 99, host: {}, changedSince: 5, firstSeen: 5, lastSeen: 12 });
    used.rules = withRule(used.rules, 'rule');
    used.outsideAddressFrom(Uint8Array.from({ length: 16 }, (_, i) => i + 1), 0, 16);
    Object.assign(used, { outPackets: 1, outBytes: 2, outPayloadPackets: 3, outFirstPayloadLength: 4, inPackets: 7, inBytes: 8, inPayloadPackets: 9, inFirstPayloadLength: 10 });
    const handedOut = used.rules;
    used.reset(IPPROTO_UDP, 4, 'in', 1000, 'out', 2000, true);
    expect(userFields(used)).toEqual(userFields(new Flow('', IPPROTO_UDP, 4, 'in', 1000, 'out', 2000, true)));
    // The old rules went out with the old flow's end event: untouched, and not the new flow's.
    expect(handedOut).toEqual(['rule']);
    expect(used.rules).not.toBe(handedOut);
  });
});

describe('Flow.outsideAddress', () => {
  it('is the address key of the bytes it was set from, IPv4 and IPv6, and a given key as given', () => {
    const flow = new Flow('', IPPROTO_UDP, 4, 'in', 1, 'out', 2, true);
    expect(flow.outsideAddress).toBe('out');
    expect(flow.outsideIpv4()).toBe(-1);
    const packet = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 200) & 255);
    flow.outsideAddressFrom(packet, 12, 4);
    expect(flow.outsideAddress).toBe(addressKey(packet, 12, 4));
    // The same address as a number, for the peer lookup (a high first octet: still unsigned).
    expect(flow.outsideIpv4()).toBe(((packet[12]! << 24) | (packet[13]! << 16) | (packet[14]! << 8) | packet[15]!) >>> 0);
    expect(flow.outsideIpv4()).toBeGreaterThan(0x7fffffff);
    flow.outsideAddressFrom(packet, 20, 16);
    expect(flow.outsideAddress).toBe(addressKey(packet, 20, 16));
    expect(flow.outsideIpv4()).toBe(-1);
    flow.outsideAddress = 'given';
    expect(flow.outsideAddress).toBe('given');
    expect(flow.outsideIpv4()).toBe(-1);
  });
});

describe('the engine on a full flow table', () => {
  it('reuses evicted flows without changing an event already emitted or carrying anything over', () => {
    const emitted: { event: EngineEvent; copy: EngineEvent }[] = [];
    const engine = new Engine({ maxFlows: 2 }, (event) => emitted.push({ event, copy: structuredClone(event) }));
    let ms = 0;
    const send = (packet: Uint8Array) => engine.judgeIp(packet, 0, packet.length, T0 + ms++);
    // A labelled, dropped flow, then benign new flows evicting it and each other.
    expect(send(ping(PEER))).toBe(Verdict.drop);
    for (let i = 0; i < 20; i++) {
      const dst = `198.51.100.${10 + i}`;
      send(i % 3 === 0 ? ping({ ip: dst, port: 3000 + i }) : udp({ src: CLIENT, dst, sport: 5000 + i, dport: 6000 + i, payload: 'hello' }));
    }
    engine.flush(T0 + ms);
    for (const { event, copy } of emitted) expect(event).toEqual(copy);
    const flows = emitted.map(({ event }) => event).filter((event) => event.event === 'flow');
    expect(flows).toHaveLength(21);
    expect(flows.map((flow) => flow.end)).toEqual([...Array<string>(19).fill('evicted'), 'flushed', 'flushed']);
    expect(flows[0]).toMatchObject({ dst: PEER.ip, dport: PEER.port, app: 'fasttrack', rules: ['fasttrack/udp-ping'], verdict: 'drop', droppedPackets: 1 });
    for (const [i, flow] of flows.slice(1).entries()) {
      // Each flow's own figures: one packet, its own label or none.
      expect(flow).toMatchObject({ dst: `198.51.100.${10 + i}`, packetsOut: 1, packetsIn: 0, firstSeen: T0 + 1 + i, lastSeen: T0 + 1 + i });
      expect(flow.rules).toEqual(i % 3 === 0 ? ['fasttrack/udp-ping'] : []);
      expect(flow.app).toBe(i % 3 === 0 ? 'fasttrack' : null);
    }
    expect(engine.flows.size).toBe(0);
    expect(engine.flows.evictions).toBe(19);
  });

  it('finds a live flow again from its reply while the table churns', () => {
    const engine = new Engine({ maxFlows: 64 }, () => {});
    const out = (i: number) => udp({ src: CLIENT, dst: `198.51.100.${i % 200}`, sport: 9000, dport: 7000 + i, payload: 'a' });
    const reply = (i: number) => udp({ src: `198.51.100.${i % 200}`, dst: CLIENT, sport: 7000 + i, dport: 9000, payload: 'b' });
    const judge = (packet: Uint8Array, ms: number) => engine.judgeIp(packet, 0, packet.length, T0 + ms);
    for (let i = 0; i < 1000; i++) {
      judge(out(i), i);
      expect(engine.counters.flows).toBe(i + 1);
      if (i < 10) continue;
      // Ten flows younger than it in a table of 64: still there, whatever was evicted.
      judge(reply(i - 10), i);
      expect(engine.counters.flows).toBe(i + 1);
      expect(engine.lastFlow).toMatchObject({ outsidePort: 7000 + i - 10, outPackets: 1, inPackets: 1 });
      expect(engine.flows.size).toBe(Math.min(64, i + 1));
    }
    expect(engine.flows.evictions).toBe(1000 - 64);
  });
});

describe('FlowTable index', () => {
  /** Keys from a small space, so that flows come back after they ended and buckets collide. */
  function keyBytes(n: number, v6: boolean): { buf: Uint8Array; length: 4 | 16 } {
    if (!v6) return { buf: Uint8Array.of(10, 0, 0, n & 7, 198, 51, 100, (n >> 3) & 255), length: 4 };
    const buf = new Uint8Array(32);
    buf[0] = 0x20;
    buf[1] = 0x01;
    buf[15] = n & 7;
    buf[16] = 0x20;
    buf[17] = 0x01;
    buf[31] = (n >> 3) & 255;
    return { buf, length: 16 };
  }

  it('agrees with a Map under random adds, touches, expiry, eviction and flushes, IPv4 and IPv6 alike', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const model = new Map<string, Flow>();
    const ended: string[] = [];
    const table = new FlowTable(1500, { tcp: 5000, udp: 3000, other: 1000 }, (flow, cause) => {
      ended.push(cause);
      expect(model.get(flow.key)).toBe(flow);
      model.delete(flow.key);
    });
    const lookup = (n: number, protocol: number, v6: boolean) => {
      const { buf, length } = keyBytes(n, v6);
      table.setKey(protocol, buf, 0, 1000 + (n % 13), length, 2000, length);
      return table.find();
    };
    const protocols = [IPPROTO_TCP, IPPROTO_UDP, 1];
    for (let now = 1; now <= 60_000; now++) {
      const n = random(1200);
      const protocol = protocols[random(3)]!;
      const v6 = random(4) === 0;
      const name = `${protocol}/${v6 ? 6 : 4}/${n}`;
      const found = lookup(n, protocol, v6);
      expect(found).toBe(model.get(name));
      if (found === undefined) {
        const flow = table.add(protocol);
        flow.reset(protocol, v6 ? 6 : 4, 'in', 1, 'out', 2, true);
        flow.key = name;
        flow.outPackets = 1;
        flow.firstSeen = now;
        flow.lastSeen = now;
        model.set(name, flow);
      } else {
        found.lastSeen = now;
        table.touch(found);
      }
      if (now % 97 === 0) table.expire(now);
      if (now % 20_000 === 0) table.flush();
      expect(table.size).toBe(model.size);
    }
    // Every flow the model holds is found under its own key.
    for (const [name, flow] of model) {
      const [protocol, version, n] = name.split('/').map(Number) as [number, number, number];
      expect(lookup(n, protocol, version === 6)).toBe(flow);
    }
    expect(ended).toContain('evicted');
    expect(ended).toContain('idle');
    expect(ended).toContain('flushed');
    expect([...table].length).toBe(model.size);
  });
});
