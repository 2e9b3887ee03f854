import { describe, expect, it } from 'vitest';
import { CidrSet } from '../../src/decode/cidr.js';
import { DecodeStatus, PacketView, decodeIp } from '../../src/decode/packet.js';
import { Engine, Verdict } from '../../src/engine.js';
import type { EngineEvent } from '../../src/events.js';
import { ACK, PSH, SYN, seededRandom, tcp, udp } from '@p2pwall/lab';

function seeds(next: () => number): Uint8Array[] {
  const text = (s: string) => s;
  return [
    udp({ src: '192.168.1.5', dst: '203.0.113.9', sport: 3531, dport: 1214, payload: new Uint8Array([0x27, 0, 0, 0, 0x29, 0x80, 0x4b, 0x61, 0x5a, 0x61, 0x41, 0]) }),
    udp({ src: '203.0.113.9', dst: '192.168.1.5', sport: 1214, dport: 3531, payload: new Uint8Array([0x28, 0, 0, 0, 0x29, 0, 1, 0, 0, 10, 0, 0x4b, 0x61, 0x5a, 0x61, 0x41, 0]) }),
    tcp({ src: '192.168.1.5', dst: '203.0.113.9', sport: 40000, dport: 1214, flags: SYN }),
    tcp({ src: '192.168.1.5', dst: '203.0.113.9', sport: 40000, dport: 1214, flags: ACK | PSH, payload: text(`GET /.hash=${'ab'.repeat(20)} HTTP/1.1\r\nX-Kazaa-Username: x\r\nX-Kazaa-IP: 198.51.100.4:1214\r\n\r\n`) }),
    tcp({ src: '203.0.113.9', dst: '192.168.1.5', sport: 1214, dport: 40000, flags: ACK | PSH, payload: 'GIVE 1234567\r\n' }),
    tcp({ src: 'fd00::5', dst: '2001:db8::9', sport: 40000, dport: 1214, flags: ACK | PSH, payload: 'HTTP/1.1 200 OK\r\nX-Kazaa-SupernodeIP: 198.51.100.9:1214\r\n\r\n' }),
    udp({ src: 'fd00::5', dst: '2001:db8::9', sport: 5, dport: 6, payload: new Uint8Array(Math.floor(next() * 64)) }),
  ];
}

describe('fuzz: decode and engine never throw', () => {
  it('survives 100,000 random and mutated packets', () => {
    const next = seededRandom(0x5eed);
    const events: EngineEvent[] = [];
    let eventCount = 0;
    const engine = new Engine({ inside: new CidrSet(['192.168.0.0/16', 'fd00::/8']), maxFlows: 4096, maxPeers: 4096 }, (event) => {
      eventCount++;
      if (events.length < 100) events.push(event);
    });
    const base = seeds(next);
    const view = new PacketView();
    const statuses = new Map<DecodeStatus, number>();
    let now = 1_700_000_000_000;
    const total = 100_000;
    for (let i = 0; i < total; i++) {
      let packet: Uint8Array;
      const kind = next();
      if (kind < 0.3) {
        packet = new Uint8Array(Math.floor(next() * 120));
        for (let j = 0; j < packet.length; j++) packet[j] = Math.floor(next() * 256);
        // Steer half of the random packets past the version check, where the parsing lives.
        if (packet.length > 0 && next() < 0.5) packet[0] = next() < 0.5 ? 0x45 : 0x60;
      } else {
        const seed = base[Math.floor(next() * base.length)]!;
        const cut = next() < 0.2 ? Math.floor(next() * seed.length) : seed.length;
        packet = seed.slice(0, cut);
        const flips = 1 + Math.floor(next() * 4);
        for (let f = 0; f < flips && packet.length > 0; f++) packet[Math.floor(next() * packet.length)] = Math.floor(next() * 256);
      }
      const status = decodeIp(view, packet, 0, packet.length);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      now += next() * 50;
      const verdict = engine.judgeIp(packet, 0, packet.length, now);
      expect(verdict === Verdict.accept || verdict === Verdict.drop).toBe(true);
    }
    engine.flush(now);
    expect(engine.counters.packets).toBe(total);
    // Both outcomes were exercised, so the test really walked the parsers.
    expect(statuses.get(DecodeStatus.ok) ?? 0).toBeGreaterThan(10_000);
    expect(statuses.get(DecodeStatus.malformed) ?? 0).toBeGreaterThan(10_000);
    expect(engine.counters.malformed).toBe(statuses.get(DecodeStatus.malformed));
    expect(eventCount).toBeGreaterThan(0);
    expect(engine.flows.size).toBe(0);
  });
});
