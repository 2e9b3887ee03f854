import { ACK, tcp, udp } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/engine.js';
import { CLIENT, Gateway, PEER, T0, ping } from '../support/gateway.js';

/**
 * Packets cut by the queue's copy range (queue.copyRange): the engine judges the bytes it got,
 * counts the packet's real length (the kernel's, passed as wireLength), and does not call it
 * malformed although its IP and UDP lengths say more than was captured.
 */
function cut(packet: Uint8Array, captured: number): { bytes: Uint8Array; wireLength: number } {
  return { bytes: packet.subarray(0, captured), wireLength: packet.length };
}

describe('packets cut by the copy range', () => {
  it('judges a cut datagram on its captured bytes, counts its real length, and does not call it malformed', () => {
    const gw = new Gateway();
    const { bytes, wireLength } = cut(udp({ src: CLIENT, dst: '198.51.100.80', sport: 40000, dport: 5000, payload: new Uint8Array(3000).fill(0x61) }), 200);
    expect(gw.engine.judgeIp(bytes, 0, bytes.length, T0, wireLength)).toBe(Verdict.accept);
    expect(gw.engine.counters).toMatchObject({ packets: 1, malformed: 0, bytes: 3028 });
    const [flow] = gw.flows();
    expect(flow).toMatchObject({ proto: 'udp', src: CLIENT, dst: '198.51.100.80', verdict: 'accept' });
    expect(flow!.bytesOut).toBe(3028);
  });

  it('drops a cut segment towards a learned peer: its headers were captured', () => {
    const gw = new Gateway();
    expect(gw.send(ping())).toBe(Verdict.drop);
    const { bytes, wireLength } = cut(tcp({ src: CLIENT, dst: PEER.ip, sport: 40001, dport: PEER.port, flags: ACK, payload: new Uint8Array(1400) }), 128);
    expect(gw.engine.judgeIp(bytes, 0, bytes.length, T0 + 10, wireLength)).toBe(Verdict.drop);
    expect(gw.reason).toBe('learned-peer');
    expect(gw.engine.counters.malformed).toBe(0);
  });
});
