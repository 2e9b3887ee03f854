/**
 * The protocol seam through the engine: a throwaway module plugs in with one registry line (here:
 * the `available` list) and nothing else; the engine, not the module, applies the trust rules,
 * the peer guards and the caps; labels and clients are kept per protocol.
 */
import { udp } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { CidrSet } from '../../src/decode/cidr.js';
import { activeModules, protocolModules } from '../../src/detect/registry.js';
import type { FlowDigest } from '../../src/detect/module.js';
import type { EngineConfig } from '../../src/engine-config.js';
import { Verdict } from '../../src/engine.js';
import { CLIENT, Gateway, OTHER_HOST, T0, ping, syn } from '../support/gateway.js';
import { ToyModule, toyPayload } from '../support/toy-module.js';

const TOY_PEER = { ip: '198.51.100.60', port: 7000 };

function withToy(toy = new ToyModule(), config: Partial<EngineConfig> = {}): Gateway {
  return new Gateway({ modules: activeModules({}, 16, { available: [...protocolModules, toy] }), ...config });
}

const toyDatagram = (payload: Uint8Array, from = CLIENT, to = TOY_PEER, sport = 5000) => udp({ src: from, dst: to.ip, sport, dport: to.port, payload });
const toyReply = (payload: Uint8Array, to = CLIENT, from = TOY_PEER, dport = 5000) => udp({ src: from.ip, dst: to, sport: from.port, dport, payload });

describe('a second protocol module on the seam', () => {
  it('identifies its client and blocks its UDP-only peer for UDP, not for TCP', () => {
    const gw = withToy();
    expect(gw.send(toyDatagram(toyPayload()))).toBe(Verdict.drop);
    expect(gw.of('client')).toEqual([expect.objectContaining({ host: CLIENT, protocol: 'toy', protocols: ['toy'] })]);
    expect(gw.of('peer')).toEqual([expect.objectContaining({ ip: TOY_PEER.ip, port: TOY_PEER.port, transport: 'udp', protocol: 'toy', via: 'toy/magic' })]);
    expect(gw.send(udp({ src: OTHER_HOST, dst: TOY_PEER.ip, sport: 6000, dport: TOY_PEER.port, payload: 'x' }), 10)).toBe(Verdict.drop);
    expect(gw.reason).toBe('learned-peer');
    expect(gw.send(syn(OTHER_HOST, TOY_PEER.ip, TOY_PEER.port), 20)).toBe(Verdict.accept);
  });

  it('learns the UDP-only peers a reply names, because the flow is the toy protocol\'s by the client\'s own datagram', () => {
    const gw = withToy(new ToyModule(), { monitor: true });
    gw.send(toyDatagram(toyPayload()));
    gw.send(toyReply(toyPayload([{ ip: '203.0.113.61', port: 7001 }, { ip: '203.0.113.62', port: 7002 }])), 5);
    expect(gw.of('peer').map((p) => `${p.ip}:${p.port}/${p.transport} ${p.via}`)).toEqual([
      '198.51.100.60:7000/udp toy/magic',
      '203.0.113.61:7001/udp toy/peer-list',
      '203.0.113.62:7002/udp toy/peer-list',
    ]);
  });

  it('gives what a module says deserves less a shorter lifetime, and leaves out a flow end the module says is no peer', () => {
    /** The toy, whose evidence says: its own flow's end is a service, and named peers last a minute. */
    class ServiceToy extends ToyModule {
      override inspect(...args: Parameters<ToyModule['inspect']>): ReturnType<ToyModule['inspect']> {
        const evidence = super.inspect(...args);
        if (evidence === null) return null;
        return { ...evidence, outsideEndIsPeer: false, peers: evidence.peers?.map((peer) => ({ ...peer, ttlMs: 60_000 })) };
      }
    }
    const gw = withToy(new ServiceToy(), { monitor: true });
    gw.send(toyDatagram(toyPayload()), 1000);
    gw.send(toyReply(toyPayload([{ ip: '203.0.113.61', port: 7001 }])), 2000);
    const peers = gw.of('peer');
    expect(peers.map((p) => `${p.ip}:${p.port} ${p.expiresAt - T0}`)).toEqual(['203.0.113.61:7001 62000']);
    // Never longer than the engine's own peer TTL, whatever a module asks.
    expect(gw.engine.config.peerTtlMs).toBeGreaterThan(60_000);
  });

  it('keeps labels and clients per protocol: a host running two clients is reported under both', () => {
    const gw = withToy(new ToyModule({ priority: 50 }));
    gw.send(ping());
    gw.send(toyDatagram(toyPayload()), 5);
    const clients = gw.of('client');
    expect(clients.map((c) => [c.protocol, c.protocols])).toEqual([
      ['fasttrack', ['fasttrack']],
      ['toy', ['fasttrack', 'toy']],
    ]);
    expect(gw.engine.clients.get(gw.engine.lastFlow!.insideAddress)!.protocols.map((p) => p.name)).toEqual(['fasttrack', 'toy']);
  });

  it('names a flow both modules concluded on after the higher priority, whatever the order of evidence', () => {
    for (const toyPriority of [1, 50]) {
      const gw = withToy(new ToyModule({ priority: toyPriority }), { monitor: true });
      // A FastTrack ping and then a toy datagram on the same UDP flow.
      gw.send(ping(TOY_PEER, CLIENT, 5000));
      gw.send(toyDatagram(toyPayload()), 5);
      const [flow] = gw.flows(10);
      expect(flow!.app).toBe(toyPriority > 10 ? 'toy' : 'fasttrack');
      expect(flow!.rules).toEqual(['fasttrack/udp-ping', 'toy/magic']);
    }
  });

  it('sees only its transports and its own depth; past it, its state is freed', () => {
    const toy = new ToyModule({ inspectPackets: 2 });
    const gw = withToy(toy);
    for (let i = 0; i < 4; i++) gw.send(toyDatagram(Uint8Array.of(0x54)), i);
    expect(toy.inspected).toHaveLength(2);
    gw.send(syn(CLIENT, TOY_PEER.ip, 80), 10);
    expect(toy.inspected).toHaveLength(2);
  });

  it('frees a state its module calls done, so the flow can go clean (skip the queue)', () => {
    const gw = withToy();
    const ends = { ip: '203.0.113.70', port: 9000 };
    gw.send(toyDatagram(Uint8Array.of(0x54, 1), CLIENT, ends));
    expect(gw.engine.lastFlow!.moduleStates?.some((state) => state !== undefined)).toBe(true);
    expect(gw.engine.lastFlowClean).toBe(false);
    gw.send(toyReply(Uint8Array.of(0x54, 2), CLIENT, ends), 1);
    expect(gw.engine.lastFlow!.moduleStates?.every((state) => state === undefined)).toBe(true);
    expect(gw.engine.lastFlowClean).toBe(true);
  });
});

describe('trust rules (the engine decides what evidence may do)', () => {
  it('never lets what arrives unsolicited from outside identify anyone', () => {
    const gw = withToy();
    gw.send(toyReply(toyPayload([{ ip: '203.0.113.61', port: 7001 }])));
    expect(gw.of('client')).toEqual([]);
    expect(gw.of('peer')).toEqual([]);
    expect(gw.engine.counters).toMatchObject({ evidenceRefusedUnsolicited: 1, evidence: 0, clients: 0, peers: 0 });
  });

  it('takes a reply only on a flow whose inside host sent that protocol itself', () => {
    const gw = withToy();
    gw.send(toyDatagram(Uint8Array.of(0x51, 0x51)));
    gw.send(toyReply(toyPayload([{ ip: '203.0.113.61', port: 7001 }])), 1);
    expect(gw.of('client')).toEqual([]);
    expect(gw.engine.counters.evidenceRefusedUnanswered).toBe(1);
  });
});

describe('peer guards and caps', () => {
  const named = (...peers: { ip: string; port: number }[]) => toyReply(toyPayload(peers));

  it('never learns reserved, inside or protected addresses, and counts each refusal', () => {
    const gw = withToy(new ToyModule(), { protect: new CidrSet(['198.51.100.53/32']) });
    gw.send(toyDatagram(toyPayload()));
    gw.send(named({ ip: '127.0.0.1', port: 7001 }, { ip: '255.255.255.255', port: 7001 }, { ip: '224.0.0.251', port: 5353 }, { ip: '0.0.0.0', port: 7001 }, { ip: '169.254.1.1', port: 7001 }, { ip: '240.0.0.1', port: 7001 }), 1);
    gw.send(named({ ip: '192.168.1.9', port: 7001 }, { ip: '10.1.2.3', port: 7001 }), 2);
    gw.send(named({ ip: '198.51.100.53', port: 7001 }), 3);
    expect(gw.of('peer').map((p) => p.ip)).toEqual([TOY_PEER.ip]);
    expect(gw.engine.counters).toMatchObject({ peersRefusedReserved: 6, peersRefusedInside: 2, peersRefusedProtected: 1 });
  });

  it('never learns a protected address the client contacts, nor its own flow\'s end when protected', () => {
    const gw = withToy(new ToyModule(), { protect: new CidrSet([`${TOY_PEER.ip}/32`]) });
    gw.send(toyDatagram(toyPayload()));
    expect(gw.of('client').map((c) => c.host)).toEqual([CLIENT]);
    expect(gw.of('peer')).toEqual([]);
    expect(gw.engine.counters.peersRefusedProtected).toBe(1);
  });

  it('never learns a named peer on a port below 1024, but does learn a contacted one there', () => {
    const gw = withToy();
    const lowPortPeer = { ip: '203.0.113.80', port: 53 };
    gw.send(toyDatagram(toyPayload(), CLIENT, lowPortPeer));
    gw.send(toyReply(toyPayload([{ ip: '203.0.113.81', port: 443 }]), CLIENT, lowPortPeer), 1);
    expect(gw.of('peer').map((p) => `${p.ip}:${p.port}`)).toEqual(['203.0.113.80:53']);
    expect(gw.engine.counters.peersRefusedLowPort).toBe(1);
  });

  it('never learns an endpoint an operator allowed, and forgets it when allowed', () => {
    const gw = withToy();
    gw.send(toyDatagram(toyPayload()));
    expect(gw.engine.peers.size).toBe(1);
    expect(gw.engine.allowPeer(TOY_PEER.ip, 0, Number.MAX_SAFE_INTEGER)?.map((peer) => `${peer.ip}:${peer.port}/${peer.transport}`)).toEqual([`${TOY_PEER.ip}:${TOY_PEER.port}/udp`]);
    expect(gw.engine.peers.size).toBe(0);
    gw.send(toyDatagram(toyPayload(), CLIENT, TOY_PEER, 5001), 5);
    expect(gw.engine.peers.size).toBe(0);
    expect(gw.engine.counters.peersRefusedAllowlisted).toBe(1);
    expect(gw.send(toyDatagram(Uint8Array.of(1), OTHER_HOST), 6)).toBe(Verdict.accept);
  });

  it('caps the peers one flow and one host may teach, and counts what it left out', () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ ip: `203.0.113.${100 + i}`, port: 8000 + i }));
    const perFlow = withToy(new ToyModule(), { maxPeersPerFlow: 5, monitor: true });
    perFlow.send(toyDatagram(toyPayload()));
    perFlow.send(named(...many), 1);
    expect(perFlow.of('peer')).toHaveLength(5);
    expect(perFlow.engine.counters.peersCappedFlow).toBe(16);

    const perHost = withToy(new ToyModule(), { maxPeersPerHostPerMinute: 3, monitor: true });
    for (let i = 0; i < 5; i++) perHost.send(toyDatagram(toyPayload(), CLIENT, { ip: `198.51.100.${10 + i}`, port: 7000 }), i);
    expect(perHost.of('peer')).toHaveLength(3);
    expect(perHost.engine.counters.peersCappedHost).toBe(2);
    // A minute later the host may teach again.
    perHost.send(toyDatagram(toyPayload(), CLIENT, { ip: '198.51.100.30', port: 7000 }), 61_000);
    expect(perHost.of('peer')).toHaveLength(4);
  });
});

describe('a module that passes on a flow (FlowMemory.pass)', () => {
  /** Counts its calls per outside port; passes on one port's flows at their first datagram, after making a state. */
  class PassingToy extends ToyModule {
    readonly calls = new Map<number, number>();
    constructor(private readonly passOn: number) {
      super();
    }
    override inspect(...args: Parameters<ToyModule['inspect']>): ReturnType<ToyModule['inspect']> {
      const [, digest, , memory] = args;
      const flow = digest as FlowDigest;
      this.calls.set(flow.outsidePort, (this.calls.get(flow.outsidePort) ?? 0) + 1);
      if (flow.outsidePort === this.passOn) {
        memory.open();
        memory.pass();
        return null;
      }
      return super.inspect(...args);
    }
  }

  it('sees none of that flow\'s later packets, keeps no state for it, and sees other flows and a new flow in the reused object as before', () => {
    const toy = new PassingToy(7100);
    const gw = withToy(toy, { monitor: true, maxFlows: 1 });
    for (let i = 0; i < 5; i++) gw.send(toyDatagram(Uint8Array.of(1, 2, 3), CLIENT, { ip: TOY_PEER.ip, port: 7100 }), i);
    expect(toy.calls.get(7100)).toBe(1);
    expect(gw.engine.lastFlow!.moduleStates?.every((state) => state === undefined) ?? true).toBe(true);
    // maxFlows 1: this flow takes the passed one's object, and is shown to the module again.
    for (let i = 0; i < 3; i++) gw.send(toyDatagram(Uint8Array.of(1, 2, 3), CLIENT, { ip: TOY_PEER.ip, port: 7200 }), 10 + i);
    expect(toy.calls.get(7200)).toBe(3);
    // The passed flow's port again: a new flow (the old one was evicted), shown once more, passed again.
    for (let i = 0; i < 3; i++) gw.send(toyDatagram(Uint8Array.of(1, 2, 3), CLIENT, { ip: TOY_PEER.ip, port: 7100 }), 20 + i);
    expect(toy.calls.get(7100)).toBe(2);
  });
  it('shows a module every packet within its depth, a depth above 255 included', () => {
    const toy = new PassingToy(0);
    const modules = activeModules({ toy: { enabled: true, inspectPackets: 300 } }, 1000, { available: [...protocolModules, toy] });
    const gw = new Gateway({ modules, inspectPackets: 1000, monitor: true });
    for (let i = 0; i < 310; i++) gw.send(toyDatagram(Uint8Array.of(1, 2, 3), CLIENT, { ip: TOY_PEER.ip, port: 7300 }), i);
    expect(toy.calls.get(7300)).toBe(300);
  });
});
