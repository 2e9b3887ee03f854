import { describe, expect, it } from 'vitest';
import { udp } from '@p2pwall/lab';
import { addressKeyFromText } from '../../src/decode/address.js';
import { CidrSet } from '../../src/decode/cidr.js';
import { dns } from '../../src/detect/dns/dns.js';
import { DnsRule } from '../../src/detect/dns/rules.js';
import { activeModules } from '../../src/detect/registry.js';
import type { ModuleSettings } from '../../src/detect/module.js';
import { Engine, Verdict } from '../../src/engine.js';
import type { EngineConfig } from '../../src/engine-config.js';
import type { ClientEvent, EngineEvent, PeerEvent } from '../../src/events.js';
import { dnsMessage, overTcp, type DnsMessageSpec } from '../support/dns.js';
import { reversed, tcpSegments, tcpSyn, tcpSynAck } from '../support/detector-harness.js';

const HOST = '10.0.0.5';
const RESOLVER = '198.51.100.53';
const QUERY = { src: HOST, dst: RESOLVER, sport: 40123, dport: 53 };

/** The real engine with the DNS module configured by `options`, and every event it emits. */
function gateway(options: Partial<ModuleSettings> = {}, overrides: Partial<EngineConfig> = {}) {
  const events: EngineEvent[] = [];
  const seen: { rule: string; accepted: boolean; family?: string }[] = [];
  const engine = new Engine(
    {
      inside: new CidrSet(['10.0.0.0/8', 'fd00::/8']),
      modules: activeModules({ dns: options }, 16, { available: [dns] }),
      observeEvidence: (_protocol, evidence, accepted) => seen.push({ rule: evidence.rule, accepted, ...(evidence.family ? { family: evidence.family } : {}) }),
      ...overrides,
    },
    (event) => events.push(event),
  );
  let ts = 1000;
  return {
    engine,
    events,
    seen,
    send(packet: Uint8Array): Verdict {
      ts += 10;
      return engine.judgeIp(packet, 0, packet.length, ts);
    },
    clients: () => events.filter((event): event is ClientEvent => event.event === 'client'),
    peers: () => events.filter((event): event is PeerEvent => event.event === 'peer').map((event) => `${event.protocol} ${event.ip}:${event.port}/${event.transport} ${event.via} from ${event.learnedFrom}`),
  };
}

const query = (spec: Omit<DnsMessageSpec, 'response'>, ends = QUERY) => udp({ ...ends, payload: dnsMessage(spec) });
const answer = (spec: Omit<DnsMessageSpec, 'response'>, ends = QUERY) => udp({ ...reversed(ends), payload: dnsMessage({ ...spec, response: true, compress: true }) });

describe('DNS-name rules (the dns module in the real engine)', () => {
  it('identifies the host that asks for a DHT router, and learns the answer\'s addresses on the router\'s port', () => {
    const g = gateway();
    g.send(query({ id: 0x1111, name: 'router.bittorrent.com', edns: true }));
    expect(g.seen).toEqual([{ rule: DnsRule.nameQuery, accepted: true, family: 'bittorrent' }]);
    const [client] = g.clients();
    expect(client).toMatchObject({ host: HOST, protocol: 'bittorrent', evidence: [{ rule: 'dns/name-query', detail: 'router.bittorrent.com', protocol: 'bittorrent' }] });
    expect(client!.lockedUntil).toBeGreaterThan(0);
    g.send(answer({ id: 0x1111, name: 'router.bittorrent.com', answers: [
      { name: 'router.bittorrent.com', type: 'A', value: '203.0.113.10' },
      { name: 'router.bittorrent.com', type: 'A', value: '203.0.113.11' },
    ] }));
    expect(g.peers()).toEqual([`bittorrent 203.0.113.10:6881/udp dns/name-answer from ${HOST}`, `bittorrent 203.0.113.11:6881/udp dns/name-answer from ${HOST}`]);
    // The resolver is never a peer; the DHT router is blocked, on its port only.
    expect(g.engine.peers.lookup(addressKeyFromText(RESOLVER)!, 53, 'udp', 2000)).toBeNull();
    expect(g.send(udp({ src: HOST, dst: '203.0.113.10', sport: 6881, dport: 6881, payload: 'd1:ad2:id20:' }))).toBe(Verdict.drop);
    expect(g.engine.counters.droppedLearnedPeer).toBe(1);
    // A benign query and the web still pass; a new connection to a high port is time-locked.
    expect(g.send(query({ id: 2, name: 'example.com' }, { ...QUERY, sport: 40200 }))).toBe(Verdict.accept);
    expect(g.send(tcpSyn({ src: HOST, dst: '198.51.100.80', sport: 50000, dport: 443 }))).toBe(Verdict.accept);
    expect(g.send(tcpSyn({ src: HOST, dst: '198.51.100.80', sport: 50001, dport: 8080 }))).toBe(Verdict.drop);
  });

  it('follows a CNAME chain to the addresses, learns AAAA answers as IPv6 peers, and ignores records of other names', () => {
    const g = gateway();
    g.send(query({ id: 5, name: 'dht.libtorrent.org', type: 'AAAA' }));
    g.send(answer({ id: 5, name: 'dht.libtorrent.org', type: 'AAAA', answers: [
      { name: 'dht.libtorrent.org', type: 'CNAME', value: 'node.example.net' },
      { name: 'node.example.net', type: 'AAAA', value: '2001:db8::25' },
      { name: 'unrelated.example', type: 'AAAA', value: '2001:db8::66' },
      { name: 'node.example.net', type: 'A', value: '203.0.113.77' },
    ] }));
    expect(g.peers()).toEqual([`bittorrent 2001:db8::25:25401/udp dns/name-answer from ${HOST}`]);
  });

  it('reads DNS over IPv6 alike', () => {
    const g = gateway();
    const ends = { src: 'fd00::5', dst: '2001:db8::53', sport: 40500, dport: 53 };
    g.send(query({ id: 12, name: 'dht.transmissionbt.com', type: 'AAAA' }, ends));
    expect(g.clients()).toMatchObject([{ host: 'fd00::5', protocol: 'bittorrent' }]);
    g.send(answer({ id: 12, name: 'dht.transmissionbt.com', type: 'AAAA', answers: [{ name: 'dht.transmissionbt.com', type: 'AAAA', value: '2001:db8:0:113::7' }] }, ends));
    expect(g.peers()).toEqual(['bittorrent 2001:db8:0:113::7:6881/udp dns/name-answer from fd00::5']);
  });

  it('learns nothing from an answer that does not match a query the host sent on that flow', () => {
    const g = gateway();
    const router = [{ name: 'router.utorrent.com', type: 'A' as const, value: '203.0.113.20' }];
    // Unsolicited: an answer on a flow the outside opened, even when the host then asks on it.
    const opened = { ...QUERY, sport: 41000 };
    g.send(answer({ id: 9, name: 'router.utorrent.com', answers: router }, opened));
    g.send(query({ id: 9, name: 'router.utorrent.com' }, opened));
    g.send(answer({ id: 9, name: 'router.utorrent.com', answers: router }, opened));
    expect(g.engine.counters.evidenceRefusedUnsolicited).toBe(1);
    g.send(query({ id: 9, name: 'router.utorrent.com' }));
    // Wrong id, wrong question, wrong type, a query-shaped reply, an error answer.
    g.send(answer({ id: 10, name: 'router.utorrent.com', answers: router }));
    g.send(answer({ id: 9, name: 'router.bittorrent.com', answers: [{ name: 'router.bittorrent.com', type: 'A', value: '203.0.113.21' }] }));
    g.send(answer({ id: 9, name: 'router.utorrent.com', type: 'AAAA', answers: router }));
    g.send(udp({ ...reversed(QUERY), payload: dnsMessage({ id: 9, name: 'router.utorrent.com', answers: router }) }));
    expect(g.peers()).toEqual([]);
    g.send(answer({ id: 9, name: 'ROUTER.uTorrent.COM', answers: router })); // 0x20 case randomization
    expect(g.peers()).toEqual([`bittorrent 203.0.113.20:6881/udp dns/name-answer from ${HOST}`]);
    // The query was answered: a replay teaches nothing more.
    g.send(answer({ id: 9, name: 'router.utorrent.com', answers: [{ name: 'router.utorrent.com', type: 'A', value: '203.0.113.22' }] }));
    expect(g.peers()).toHaveLength(1);
  });

  it('answers with an error code teach nothing', () => {
    const g = gateway();
    g.send(query({ id: 3, name: 'router.utorrent.com' }));
    g.send(answer({ id: 3, name: 'router.utorrent.com', rcode: 3, answers: [{ name: 'router.utorrent.com', type: 'A', value: '203.0.113.23' }] }));
    expect(g.peers()).toEqual([]);
  });

  it('counts a supporting name without identifying the host, and still learns its declared endpoints', () => {
    const g = gateway();
    g.send(query({ id: 4, name: 'tracker.opentrackr.org' }));
    expect(g.seen).toEqual([{ rule: DnsRule.supportingQuery, accepted: true, family: 'bittorrent' }]);
    expect(g.clients()).toEqual([]);
    expect(detections(g.engine)).toEqual([`dns ${DnsRule.supportingQuery} 1`]);
    g.send(answer({ id: 4, name: 'tracker.opentrackr.org', answers: [{ name: 'tracker.opentrackr.org', type: 'A', value: '203.0.113.30' }] }));
    expect(g.peers()).toEqual([`bittorrent 203.0.113.30:1337/udp dns/name-answer from ${HOST}`, `bittorrent 203.0.113.30:1337/tcp dns/name-answer from ${HOST}`]);
    // Not locked: a new connection to a high port passes; the tracker's port does not.
    expect(g.send(tcpSyn({ src: HOST, dst: '198.51.100.80', sport: 50001, dport: 8080 }))).toBe(Verdict.accept);
    expect(g.send(tcpSyn({ src: HOST, dst: '203.0.113.30', sport: 50002, dport: 1337 }))).toBe(Verdict.drop);
  });

  it('never identifies or locks a configured resolver, and still learns what its answers name', () => {
    const g = gateway({ resolvers: ['10.0.0.53/32'] });
    const ends = { src: '10.0.0.53', dst: '198.51.100.1', sport: 33333, dport: 53 };
    for (let i = 0; i < 50; i++) g.send(query({ id: 100 + i, name: 'router.bittorrent.com' }, { ...ends, sport: 33333 + i }));
    expect(g.clients()).toEqual([]);
    expect(g.seen.every((entry) => entry.rule === DnsRule.resolverQuery && entry.accepted)).toBe(true);
    g.send(answer({ id: 100, name: 'router.bittorrent.com', answers: [{ name: 'router.bittorrent.com', type: 'A', value: '203.0.113.40' }] }, ends));
    expect(g.peers()).toEqual(['bittorrent 203.0.113.40:6881/udp dns/name-answer from 10.0.0.53']);
    expect(g.send(tcpSyn({ src: '10.0.0.53', dst: '198.51.100.80', sport: 50001, dport: 8080 }))).toBe(Verdict.accept);
    // Another host asking itself is identified as usual.
    g.send(query({ id: 1, name: 'router.bittorrent.com' }));
    expect(g.clients().map((client) => client.host)).toEqual([HOST]);
  });

  it('takes a host resolving iteratively (no RD bit) for a resolver, listed or not', () => {
    const g = gateway();
    const ends = { src: '10.0.0.54', dst: '198.51.100.1', sport: 34000, dport: 53 };
    g.send(query({ id: 7, name: 'router.bittorrent.com', recursionDesired: false }, ends));
    expect(g.seen).toEqual([{ rule: DnsRule.resolverQuery, accepted: true, family: 'bittorrent' }]);
    expect(g.clients()).toEqual([]);
    g.send(answer({ id: 7, name: 'router.bittorrent.com', answers: [{ name: 'router.bittorrent.com', type: 'A', value: '203.0.113.41' }] }, ends));
    expect(g.peers()).toEqual(['bittorrent 203.0.113.41:6881/udp dns/name-answer from 10.0.0.54']);
  });

  it('reads DNS over TCP (2-byte length), queries and answers', () => {
    const g = gateway();
    const ends = { ...QUERY, sport: 45000 };
    g.send(tcpSyn(ends));
    g.send(tcpSynAck(ends));
    for (const segment of tcpSegments(overTcp(dnsMessage({ id: 77, name: 'server.slsknet.org' })), ends)) g.send(segment);
    expect(g.clients()).toMatchObject([{ host: HOST, protocol: 'soulseek' }]);
    const reply = overTcp(dnsMessage({ id: 77, name: 'server.slsknet.org', response: true, answers: [{ name: 'server.slsknet.org', type: 'A', value: '203.0.113.50' }] }));
    for (const segment of tcpSegments(reply, reversed(ends))) g.send(segment);
    expect(g.peers()).toEqual(['2242', '2271', '2416'].map((port) => `soulseek 203.0.113.50:${port}/tcp dns/name-answer from ${HOST}`));
  });

  it('ignores look-alikes: mDNS, LLMNR, an inside server\'s clients, ordinary names, other query types', () => {
    const g = gateway();
    g.send(udp({ src: HOST, dst: '224.0.0.251', sport: 5353, dport: 5353, payload: dnsMessage({ id: 0, name: 'router.bittorrent.com' }) }));
    g.send(udp({ src: HOST, dst: '224.0.0.252', sport: 50000, dport: 5355, payload: dnsMessage({ id: 1, name: 'router.bittorrent.com' }) }));
    g.send(udp({ src: '198.51.100.9', dst: '10.0.0.2', sport: 40000, dport: 53, payload: dnsMessage({ id: 2, name: 'router.bittorrent.com' }) }));
    g.send(query({ id: 3, name: 'example.com' }));
    g.send(query({ id: 4, name: 'bittorrent.com' }));
    g.send(query({ id: 5, name: 'notrouter.bittorrent.com' }));
    g.send(query({ id: 6, name: 'router.bittorrent.com', type: 'TXT' }));
    expect(g.seen).toEqual([]);
    expect(g.clients()).toEqual([]);
    expect(g.engine.counters.evidence).toBe(0);
  });

  it('matches operator names: exact, wildcard below a domain, trailing dot and case', () => {
    const g = gateway({ names: [{ name: '*.Example-P2P.net.', protocol: 'gnutella', evidence: 'identifying', learn: [{ transport: 'tcp', port: 6346 }] }] });
    g.send(query({ id: 1, name: 'example-p2p.net' }));
    expect(g.clients()).toEqual([]);
    g.send(query({ id: 2, name: 'cache.eu.example-p2p.net' }));
    expect(g.clients()).toMatchObject([{ protocol: 'gnutella', evidence: [{ detail: 'cache.eu.example-p2p.net' }] }]);
    g.send(answer({ id: 2, name: 'cache.eu.example-p2p.net', answers: [{ name: 'cache.eu.example-p2p.net', type: 'A', value: '203.0.113.60' }] }));
    expect(g.peers()).toEqual([`gnutella 203.0.113.60:6346/tcp dns/name-answer from ${HOST}`]);
  });

  it('drops the shipped names when told: all of them, or some', () => {
    const none = gateway({ defaults: false });
    none.send(query({ id: 1, name: 'router.bittorrent.com' }));
    expect(none.seen).toEqual([]);
    const some = gateway({ disableDefaults: ['router.bittorrent.com'] });
    some.send(query({ id: 1, name: 'router.bittorrent.com' }));
    some.send(query({ id: 2, name: 'router.utorrent.com' }, { ...QUERY, sport: 40124 }));
    expect(some.seen.map((entry) => entry.rule)).toEqual([DnsRule.nameQuery]);
    expect(some.clients()).toMatchObject([{ evidence: [{ detail: 'router.utorrent.com' }] }]);
  });

  it('keeps within the engine\'s per-flow peer cap', () => {
    const learn = [6001, 6002, 6003, 6004].map((port) => ({ transport: 'udp', port }));
    const g = gateway({ names: [{ name: 'swarm.example', protocol: 'bittorrent', evidence: 'identifying', learn }] }, { maxPeersPerFlow: 10 });
    g.send(query({ id: 1, name: 'swarm.example' }));
    const answers = Array.from({ length: 8 }, (_, i) => ({ name: 'swarm.example', type: 'A' as const, value: `203.0.113.${100 + i}` }));
    g.send(answer({ id: 1, name: 'swarm.example', answers }));
    expect(g.peers()).toHaveLength(10);
    expect(g.engine.counters.peersCappedFlow).toBe(22);
  });

  it('keeps within the engine\'s per-host peer cap across flows', () => {
    const g = gateway({}, { maxPeersPerHostPerMinute: 3 });
    for (let flow = 0; flow < 3; flow++) {
      const ends = { ...QUERY, sport: 42000 + flow };
      g.send(query({ id: flow, name: 'router.utorrent.com' }, ends));
      g.send(answer({ id: flow, name: 'router.utorrent.com', answers: [0, 1].map((i) => ({ name: 'router.utorrent.com', type: 'A' as const, value: `203.0.113.${10 * flow + i + 1}` })) }, ends));
    }
    expect(g.peers()).toHaveLength(3);
    expect(g.engine.counters.peersCappedHost).toBe(3);
  });

  it('never throws on random and corrupted DNS payloads through the engine, and learns only what was asked', () => {
    let seed = 0x2545f491;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const g = gateway();
    const good = dnsMessage({ id: 0x77, name: 'router.bittorrent.com', response: true, compress: true, answers: [{ name: 'router.bittorrent.com', type: 'A', value: '203.0.113.99' }] });
    for (let i = 0; i < 3000; i++) {
      const ends = { ...QUERY, sport: 20000 + (i % 200) };
      g.send(query({ id: 0x77, name: 'router.bittorrent.com' }, ends));
      const bytes = i % 2 === 0 ? good.slice() : Uint8Array.from({ length: Math.floor(next() * 120) }, () => Math.floor(next() * 256));
      if (i % 2 === 0) for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) bytes[12 + Math.floor(next() * (bytes.length - 12))] = Math.floor(next() * 256);
      expect(() => g.send(udp({ ...reversed(ends), payload: bytes }))).not.toThrow();
    }
    // Whatever was learned came from an answer to the watched question, on the router's port.
    for (const line of g.peers()) expect(line).toMatch(/^bittorrent \S+:6881\/udp dns\/name-answer from 10\.0\.0\.5$/);
  });

  it('refuses named addresses the guards refuse (reserved, inside)', () => {
    const g = gateway();
    g.send(query({ id: 1, name: 'router.bitcomet.com' }));
    g.send(answer({ id: 1, name: 'router.bitcomet.com', answers: [
      { name: 'router.bitcomet.com', type: 'A', value: '127.0.0.1' },
      { name: 'router.bitcomet.com', type: 'A', value: '10.1.2.3' },
    ] }));
    expect(g.peers()).toEqual([]);
    expect(g.engine.counters.peersRefusedReserved + g.engine.counters.peersRefusedInside).toBe(2);
  });
});

function detections(engine: Engine): string[] {
  const counted: string[] = [];
  engine.detections.forEach((protocol, rule, count) => counted.push(`${protocol} ${rule} ${count}`));
  return counted;
}
