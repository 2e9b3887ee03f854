import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACK, SYN, TcpConversation, hashRequest, nodePong, sessionHello, sessionHelloReply, tcp, udp, uploadReply } from '@p2pwall/lab';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine, Verdict } from '../../src/engine.js';
import type { ClientEvent, EngineEvent, PeerEvent } from '../../src/events.js';
import { Storefile } from '../../src/enforce/storefile.js';
import { CLIENT, Gateway, OTHER_HOST, PEER, T0, ping, syn } from '../support/gateway.js';

describe('peer learning and drops (ftwall letters c, p, u, t)', () => {
  it('identifies the client from its node ping, learns the peer, and drops the ping', () => {
    const gw = new Gateway();
    expect(gw.send(ping())).toBe(Verdict.drop);
    expect(gw.reason).toBe('signature');
    const [client] = gw.of('client');
    expect(client).toMatchObject({ letter: 'c', host: CLIENT, protocol: 'fasttrack', hostPackets: 1, reidentified: false });
    expect(client!.evidence).toEqual([{ protocol: 'fasttrack', rule: 'fasttrack/udp-ping', packet: 1, flow: `udp ${CLIENT}:1214 > ${PEER.ip}:${PEER.port}`, supporting: false, detail: 'KaZaA' }]);
    expect(client!.lockedUntil).toBe(T0 + 120_000);
    expect(gw.of('peer')).toEqual([
      expect.objectContaining({ letter: 'p', ip: PEER.ip, port: PEER.port, via: 'fasttrack/udp-ping', learnedFrom: CLIENT, expiresAt: T0 + 7 * 24 * 3600_000 }),
    ]);
    const [flow] = gw.flows();
    expect(flow).toMatchObject({ letter: 'u', proto: 'udp', src: CLIENT, dst: PEER.ip, app: 'fasttrack', rules: ['fasttrack/udp-ping'], verdict: 'drop', reason: 'signature', droppedPackets: 1, answered: false });
  });

  it('drops traffic with a learned peer in both directions, over UDP and TCP, for every inside host', () => {
    const gw = new Gateway();
    gw.send(ping());
    expect(gw.send(udp({ src: PEER.ip, dst: CLIENT, sport: PEER.port, dport: 1214, payload: nodePong() }), 5)).toBe(Verdict.drop);
    expect(gw.send(syn(CLIENT, PEER.ip, PEER.port), 10)).toBe(Verdict.drop);
    expect(gw.reason).toBe('learned-peer');
    expect(gw.send(tcp({ src: PEER.ip, dst: OTHER_HOST, sport: PEER.port, dport: 50000, flags: SYN }), 20)).toBe(Verdict.drop);
    expect(gw.send(syn(OTHER_HOST, PEER.ip, PEER.port), 30)).toBe(Verdict.drop);
    // Another port of the same address is not the learned endpoint.
    expect(gw.send(syn(OTHER_HOST, PEER.ip, 80), 40)).toBe(Verdict.accept);
    const letters = gw.flows(50).map((f) => `${f.letter}:${f.src}>${f.dst}:${f.dport}`);
    expect(letters).toContain(`t:${CLIENT}>${PEER.ip}:${PEER.port}`);
    expect(letters).toContain(`t:${PEER.ip}>${OTHER_HOST}:50000`);
    expect(letters).toContain(`null:${OTHER_HOST}>${PEER.ip}:80`);
    // The ping and the pong both carry evidence; the rest are dropped for the learned peer alone.
    expect(gw.engine.counters).toMatchObject({ dropped: 5, droppedLearnedPeer: 3, droppedSignature: 2, clients: 1, peers: 1 });
  });

  it('works the same over IPv6', () => {
    const gw = new Gateway();
    const peer = { ip: '2001:db8::9', port: 3531 };
    expect(gw.send(ping(peer, 'fd00::5'))).toBe(Verdict.drop);
    expect(gw.of('client').map((c) => c.host)).toEqual(['fd00::5']);
    expect(gw.of('peer')).toEqual([expect.objectContaining({ ip: '2001:db8::9', port: 3531 })]);
    expect(gw.send(syn('fd00::20', peer.ip, peer.port), 10)).toBe(Verdict.drop);
    expect(gw.send(syn('fd00::5', '2001:db8::77', 6346), 20)).toBe(Verdict.drop);
    expect(gw.reason).toBe('time-lock');
  });

  it('takes a pong only as the answer to the client\'s own ping on that flow, never unsolicited', () => {
    const gw = new Gateway();
    gw.send(udp({ src: '198.51.100.44', dst: CLIENT, sport: 2000, dport: 1214, payload: nodePong() }));
    expect(gw.of('client')).toEqual([]);
    expect(gw.of('peer')).toEqual([]);
    expect(gw.engine.counters.evidenceRefusedUnsolicited).toBe(1);
    gw.send(ping({ ip: '198.51.100.45', port: 2000 }), 5);
    gw.send(udp({ src: '198.51.100.45', dst: CLIENT, sport: 2000, dport: 1214, payload: nodePong() }), 6);
    expect(gw.of('client').map((c) => c.host)).toEqual([CLIENT]);
    expect(gw.of('peer')).toEqual([expect.objectContaining({ ip: '198.51.100.45', port: 2000, transport: 'both', via: 'fasttrack/udp-ping' })]);
    expect(gw.flows(10).find((f) => f.dst === '198.51.100.45')?.rules).toEqual(['fasttrack/udp-ping', 'fasttrack/udp-pong']);
  });

  it('learns outside endpoints named in X-Kazaa headers, and never inside or unroutable ones', () => {
    const gw = new Gateway();
    const download = new TcpConversation(CLIENT, 42000, '203.0.113.200', 2121);
    for (const packet of [download.syn(), download.synAck(), download.ack()]) gw.send(packet);
    for (const packet of download.send(true, hashRequest({ kazaaIp: `${CLIENT}:1214`, supernodeIp: '198.51.100.201:1214' }))) gw.send(packet, 1);
    for (const packet of download.send(false, uploadReply({ kazaaIp: '127.0.0.1:1214', supernodeIp: '198.51.100.202:1214' }))) gw.send(packet, 2);
    const peers = gw.of('peer').map((p) => `${p.ip}:${p.port} ${p.via}`);
    expect(peers).toEqual(['203.0.113.200:2121 fasttrack/http-hash-request', '198.51.100.201:1214 fasttrack/x-kazaa-supernodeip', '198.51.100.202:1214 fasttrack/x-kazaa-supernodeip']);
  });

  it('blocks a peer that called in (a push) as a whole address, once the client answers it', () => {
    const gw = new Gateway();
    const push = new TcpConversation('198.51.100.77', 4321, CLIENT, 1214);
    for (const packet of [push.syn(), push.synAck(), push.ack(), ...push.send(true, 'GIVE 3735928559\r\n')]) gw.send(packet);
    // The GIVE came unsolicited from outside: alone it identifies nobody.
    expect(gw.of('client')).toEqual([]);
    for (const packet of push.send(false, hashRequest({ host: '198.51.100.77:4321' }))) gw.send(packet, 1);
    expect(gw.of('peer')).toEqual([expect.objectContaining({ ip: '198.51.100.77', port: 0, via: 'fasttrack/http-hash-request' })]);
    expect(gw.send(syn(OTHER_HOST, '198.51.100.77', 9999), 10)).toBe(Verdict.drop);
  });

  it('takes the 12/8-byte handshake as evidence only towards an already learned peer', () => {
    const gw = new Gateway({ monitor: true });
    const unknownPeer = new TcpConversation(OTHER_HOST, 43000, '203.0.113.50', 4000);
    for (const packet of [unknownPeer.syn(), unknownPeer.synAck(), unknownPeer.ack(), ...unknownPeer.send(true, sessionHello()), ...unknownPeer.send(false, sessionHelloReply())]) gw.send(packet);
    expect(gw.of('client')).toEqual([]);
    gw.send(ping(), 10);
    const knownPeer = new TcpConversation(OTHER_HOST, 43001, PEER.ip, PEER.port);
    for (const packet of [knownPeer.syn(), knownPeer.synAck(), knownPeer.ack(), ...knownPeer.send(true, sessionHello()), ...knownPeer.send(false, sessionHelloReply())]) gw.send(packet, 20);
    const clients = gw.of('client');
    expect(clients.map((c) => c.host)).toEqual([CLIENT, OTHER_HOST]);
    expect(clients[1]!.evidence[0]).toMatchObject({ rule: 'fasttrack/encrypted-handshake', supporting: true });
  });

  it('forgets a peer when its time to live runs out', () => {
    const gw = new Gateway({ peerTtlMs: 1000, timeLockMs: 0 });
    gw.send(ping());
    expect(gw.send(syn(OTHER_HOST, PEER.ip, PEER.port), 500)).toBe(Verdict.drop);
    expect(gw.send(syn(OTHER_HOST, PEER.ip, PEER.port, 40001), 1500)).toBe(Verdict.accept);
    expect(gw.engine.peers.size).toBe(0);
  });
});

describe('time-lock (ftwall -t)', () => {
  const lockedOut = (gw: Gateway, ms: number, dport = 6346, dst = '198.51.100.99', sport = 40000 + Math.floor(ms / 1000)) => gw.send(syn(CLIENT, dst, dport, sport), ms);

  it('drops a locked client\'s new connections to high ports of unknown hosts, but not open or low ports, nor other hosts', () => {
    const gw = new Gateway();
    gw.send(ping());
    expect(lockedOut(gw, 1000)).toBe(Verdict.drop);
    expect(gw.reason).toBe('time-lock');
    expect(gw.send(udp({ src: CLIENT, dst: '198.51.100.98', sport: 1214, dport: 5000, payload: 'x' }), 1000)).toBe(Verdict.drop);
    for (const port of [443, 53, 80, 123, 22, 1023]) expect(lockedOut(gw, 2000, port, '203.0.113.80', 41000 + port)).toBe(Verdict.accept);
    expect(gw.send(syn(OTHER_HOST, '198.51.100.99', 6346), 3000)).toBe(Verdict.accept);
  });

  it('leaves a locked client\'s multicast and broadcast alone (SSDP, WS-Discovery): they reach no peer', () => {
    const gw = new Gateway();
    gw.send(ping());
    const to = (dst: string, dport: number, sport: number) => gw.send(udp({ src: CLIENT, dst, sport, dport, payload: 'M-SEARCH * HTTP/1.1\r\n' }), 1000);
    expect(to('239.255.255.250', 1900, 50001)).toBe(Verdict.accept);
    expect(to('255.255.255.255', 3702, 50002)).toBe(Verdict.accept);
    // the same ports to one outside host are still locked out
    expect(to('203.0.113.250', 1900, 50004)).toBe(Verdict.drop);
    expect(gw.reason).toBe('time-lock');
  });

  it('an operator\'s allow entry lifts the lock and keeps evidence from locking again until it ends', () => {
    const gw = new Gateway();
    gw.send(ping());
    expect(lockedOut(gw, 1000)).toBe(Verdict.drop);
    expect(gw.engine.allowHost(CLIENT, T0 + 100_000)).toBe(true);
    expect(lockedOut(gw, 2000, 5001, '203.0.113.81')).toBe(Verdict.accept);
    // Still identified (the brain keeps its incident), never locked: peers are still learned and dropped.
    expect(gw.send(ping({ ip: '203.0.113.10', port: 1111 }), 3000)).toBe(Verdict.drop);
    expect(lockedOut(gw, 4000, 5002, '203.0.113.82')).toBe(Verdict.accept);
    expect(gw.of('lock')).toEqual([]);
    // Past the entry's end, evidence locks again.
    gw.send(ping({ ip: '203.0.113.11', port: 1111 }), 101_000);
    expect(lockedOut(gw, 102_000, 5003, '203.0.113.83')).toBe(Verdict.drop);
    expect(gw.engine.allowHost(CLIENT, T0 + 999_000)).toBe(true);
    expect(gw.engine.disallowHost(CLIENT)).toBe(true);
    gw.send(ping({ ip: '203.0.113.12', port: 1111 }), 103_000);
    expect(lockedOut(gw, 104_000, 5004, '203.0.113.84')).toBe(Verdict.drop);
  });

  it('expires after the lock time, and new evidence re-arms it', () => {
    const gw = new Gateway();
    gw.send(ping());
    expect(lockedOut(gw, 119_000)).toBe(Verdict.drop);
    expect(lockedOut(gw, 121_000)).toBe(Verdict.accept);
    gw.send(ping({ ip: '203.0.113.10', port: 1111 }), 150_000);
    const again = gw.of('client');
    expect(again).toHaveLength(2);
    expect(again[1]).toMatchObject({ reidentified: true, lockedUntil: T0 + 270_000 });
    expect(lockedOut(gw, 260_000)).toBe(Verdict.drop);
    // Re-arming within the lock extends it; the lock event says by how much.
    gw.send(ping({ ip: '203.0.113.11', port: 1111 }), 240_000);
    expect(gw.of('lock').at(-1)).toMatchObject({ host: CLIENT, lockedUntil: T0 + 360_000 });
    expect(lockedOut(gw, 350_000)).toBe(Verdict.drop);
    expect(lockedOut(gw, 361_000)).toBe(Verdict.accept);
  });

  it('leaves connections that were open before the lock alone', () => {
    const gw = new Gateway();
    const before = new TcpConversation(CLIENT, 44000, '198.51.100.60', 8080);
    expect(gw.send(before.syn())).toBe(Verdict.accept);
    gw.send(ping(), 10);
    for (const packet of [before.synAck(), before.ack(), ...before.send(true, 'data')]) expect(gw.send(packet, 20)).toBe(Verdict.accept);
  });

  it('is off with -t 0', () => {
    const gw = new Gateway({ timeLockMs: 0 });
    gw.send(ping());
    expect(lockedOut(gw, 1000)).toBe(Verdict.accept);
    expect(gw.of('client')[0]!.lockedUntil).toBe(0);
  });
});

describe('-n and monitor mode', () => {
  it('-n never drops UDP, but still drops TCP to peers, and reports UDP as U', () => {
    const gw = new Gateway({ dropUdp: false });
    expect(gw.send(ping())).toBe(Verdict.accept);
    expect(gw.send(udp({ src: CLIENT, dst: '198.51.100.98', sport: 1214, dport: 5000, payload: 'x' }), 10)).toBe(Verdict.accept);
    expect(gw.send(syn(CLIENT, PEER.ip, PEER.port), 20)).toBe(Verdict.drop);
    const flows = gw.flows(30);
    expect(flows.find((f) => f.dst === PEER.ip && f.proto === 'udp')).toMatchObject({ letter: 'U', verdict: 'accept', wouldDrop: true, reason: 'signature' });
    expect(flows.find((f) => f.dst === PEER.ip && f.proto === 'tcp')).toMatchObject({ letter: 't', verdict: 'drop' });
    expect(gw.engine.counters.wouldDrop).toBe(2);
  });

  it('monitor mode drops nothing and reports the same detections as enforce mode', () => {
    const traffic = (gw: Gateway) => {
      const verdicts: Verdict[] = [];
      verdicts.push(gw.send(ping()));
      verdicts.push(gw.send(udp({ src: PEER.ip, dst: CLIENT, sport: PEER.port, dport: 1214, payload: nodePong() }), 5));
      verdicts.push(gw.send(syn(CLIENT, PEER.ip, PEER.port), 10));
      verdicts.push(gw.send(syn(CLIENT, '198.51.100.99', 6346), 20));
      const download = new TcpConversation(CLIENT, 42000, '203.0.113.200', 2121);
      for (const packet of [download.syn(), download.synAck(), download.ack(), ...download.send(true, hashRequest({ supernodeIp: '198.51.100.201:1214' }))]) verdicts.push(gw.send(packet, 30));
      return verdicts;
    };
    const enforce = new Gateway();
    const monitor = new Gateway({ monitor: true });
    expect(traffic(enforce)).toContain(Verdict.drop);
    expect(traffic(monitor).every((v) => v === Verdict.accept)).toBe(true);
    const detections = (gw: Gateway) => gw.events.filter((e): e is ClientEvent | PeerEvent => e.event === 'client' || e.event === 'peer');
    expect(detections(monitor)).toEqual(detections(enforce));
    expect(monitor.engine.counters.dropped).toBe(0);
    expect(monitor.engine.counters.wouldDrop).toBe(enforce.engine.counters.dropped);
    expect(monitor.flows(40).filter((f) => f.wouldDrop).length).toBe(enforce.flows(40).filter((f) => f.verdict === 'drop').length);
  });
});

describe('storefile (ftwall -f)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'p2pwall-engine-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('blocks stored peers from the first packet after a crash and restart', () => {
    const path = join(dir, 'peers');
    const store = new Storefile(path);
    store.open(T0);
    const first = new Engine({}, (event) => {
      if (event.event === 'peer') store.append({ ...event, learnedAt: event.ts });
    });
    for (let i = 0; i < 5; i++) first.judgeIp(ping({ ip: `203.0.113.${i + 1}`, port: 2000 + i }), 0, 60, T0 + i);
    // The process dies mid-write: half a line, no close.
    appendFileSync(path, '{"ip":"203.0.113.99","po');

    const restarted = new Storefile(path);
    const loaded = restarted.open(T0 + 10_000);
    restarted.close();
    expect(loaded.invalidLines).toBe(1);
    expect(loaded.peers).toHaveLength(5);
    const events: EngineEvent[] = [];
    const second = new Engine({}, (event) => events.push(event));
    for (const peer of loaded.peers) expect(second.loadPeer(peer.ip, peer.port, peer.transport, peer)).toBe(true);
    const firstSyn = syn(OTHER_HOST, '203.0.113.3', 2002);
    expect(second.judgeIp(firstSyn, 0, firstSyn.length, T0 + 20_000)).toBe(Verdict.drop);
    expect(second.lastReason).toBe('learned-peer');
    expect(events.filter((e) => e.event === 'client')).toEqual([]);
  });
});

describe('clean flows (they may skip the queue)', () => {
  it('judges a flow clean once both sides spoke and no detector holds state, never a P2P or dropped one', () => {
    const gw = new Gateway();
    const web = new TcpConversation(OTHER_HOST, 50000, '203.0.113.80', 443);
    gw.send(web.syn());
    expect(gw.engine.lastFlowClean).toBe(false);
    gw.send(web.synAck());
    gw.send(web.ack());
    gw.send(web.send(true, 'x'.repeat(200))[0]!);
    expect(gw.engine.lastFlowClean).toBe(false);
    gw.send(web.send(false, 'y'.repeat(200))[0]!);
    expect(gw.engine.lastFlowClean).toBe(true);
    // A request whose header block is still incomplete keeps the HTTP detector waiting.
    const http = new TcpConversation(OTHER_HOST, 50001, '203.0.113.80', 8080);
    for (const packet of [http.syn(), http.synAck(), http.ack(), ...http.send(false, 'HELLO'), ...http.send(true, 'GET /x HTTP/1.1\r\nHost: a\r\n')]) gw.send(packet);
    expect(gw.engine.lastFlowClean).toBe(false);
    gw.send(http.send(true, '\r\n')[0]!);
    expect(gw.engine.lastFlowClean).toBe(true);
    // An upload: payload one way only, clean after a few segments.
    const upload = new TcpConversation(OTHER_HOST, 50002, '203.0.113.80', 9000);
    for (const packet of [upload.syn(), upload.synAck(), upload.ack()]) gw.send(packet);
    const cleanAfter = upload.send(true, 'z'.repeat(4 * 1400), [1400, 2800, 4200]).map((segment) => {
      gw.send(segment);
      return gw.engine.lastFlowClean;
    });
    expect(cleanAfter).toEqual([false, false, false, true]);
    gw.send(ping());
    expect(gw.engine.lastFlowClean).toBe(false);
    gw.send(udp({ src: PEER.ip, dst: CLIENT, sport: PEER.port, dport: 1214, payload: 'x' }));
    expect(gw.engine.lastFlowClean).toBe(false);
  });
});

describe('bounds', () => {
  it('keeps the peer and client tables within their limits', () => {
    const gw = new Gateway({ maxPeers: 50, maxClients: 10 });
    for (let i = 0; i < 500; i++) gw.send(ping({ ip: `198.18.${i >> 8}.${i & 0xff}`, port: 1214 }, `192.168.${i % 40}.1`), i);
    expect(gw.engine.peers.size).toBe(50);
    expect(gw.engine.clients.size).toBe(10);
    expect(gw.engine.peers.evictions).toBe(450);
  });

  it('counts an ACK-only first packet as a mid-stream flow, not a new connection', () => {
    const gw = new Gateway();
    gw.send(ping());
    expect(gw.send(tcp({ src: CLIENT, dst: '198.51.100.99', sport: 40000, dport: 6346, flags: ACK }), 10)).toBe(Verdict.accept);
  });
});
