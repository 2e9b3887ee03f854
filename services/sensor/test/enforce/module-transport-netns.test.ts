/**
 * The seam end to end in the kernel: a throwaway UDP-only protocol module, plugged in by the
 * module list alone, teaches the engine a peer; the peer event goes into the real ipset sets as
 * the live sensor puts it there (its transport decides the set entries), and real traffic through
 * a namespace gateway shows UDP to the peer stopped while TCP to the same ip:port passes.
 */
import { udp } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { CidrSet } from '../../src/decode/cidr.js';
import { activeModules, protocolModules } from '../../src/detect/registry.js';
import { installRules } from '../../src/enforce/iptables.js';
import { KernelSets } from '../../src/enforce/kernel-sets.js';
import { DEFAULT_KERNEL_POLICY, type KernelPolicy } from '../../src/enforce/rules.js';
import { Engine } from '../../src/engine.js';
import type { EngineEvent, PeerEvent } from '../../src/events.js';
import { LAB, createRoutedLab, netnsSkipReason, reachability, startEchoServer, startUdpEchoServer, titleWithSkipReason, tryConnect, tryUdpEcho } from '../support/netns.js';
import { ToyModule, toyPayload } from '../support/toy-module.js';

const PREFIX = 'p2pwt-toymod';
const TOY_PORT = 7000;

describe.skipIf(netnsSkipReason() !== null)(titleWithSkipReason('a UDP-only protocol module against the real ipset'), () => {
  it('queues the first replies of a UDP flow, and blocks the peer the module learned for UDP, not for TCP', async () => {
    const events: EngineEvent[] = [];
    const engine = new Engine(
      { inside: new CidrSet(['198.51.100.0/24', '2001:db8:1::/64']), modules: activeModules({}, 16, { available: [...protocolModules, new ToyModule()] }) },
      (event) => events.push(event),
    );
    const datagram = udp({ src: LAB.client4, dst: LAB.server4, sport: 5000, dport: TOY_PORT, payload: toyPayload() });
    engine.judgeIp(datagram, 0, datagram.length, Date.now());
    const peers = events.filter((event): event is PeerEvent => event.event === 'peer');
    expect(peers.map((peer) => [peer.ip, peer.port, peer.transport])).toEqual([[LAB.server4, TOY_PORT, 'udp']]);

    const lab = await createRoutedLab();
    try {
      const target = `${LAB.server4}:${TOY_PORT}`;
      await startEchoServer(lab.server, [TOY_PORT]);
      await startUdpEchoServer(lab.server, [target]);
      const probe = async () => {
        const [tcp, udpResults] = await Promise.all([tryConnect(lab.client, [target]), tryUdpEcho(lab.client, [target])]);
        return { tcp: reachability(tcp)[target], udp: reachability(udpResults)[target] };
      };
      const policy: KernelPolicy = { ...structuredClone(DEFAULT_KERNEL_POLICY), prefix: PREFIX };
      await installRules(policy, { runner: lab.gateway.runner });
      // Peer lists arrive in replies (trackers, DHT, Kad): the first replies of a UDP flow the
      // inside host opened must reach the queue too, not only its own datagrams.
      const replyRulePackets = async (): Promise<number> => {
        const { stdout } = await lab.gateway.exec('iptables', ['-t', 'security', '-S', PREFIX.toUpperCase(), '-v']);
        const rule = stdout.split('\n').find((line) => line.includes('--ctdir REPLY') && line.includes('NFQUEUE'));
        return Number(/-c (\d+) /.exec(rule ?? '')?.[1] ?? NaN);
      };
      const before = await replyRulePackets();
      expect(reachability(await tryUdpEcho(lab.client, [target]))[target]).toBe(true);
      expect(await replyRulePackets()).toBeGreaterThan(before);
      expect(await probe()).toEqual({ tcp: true, udp: true });

      const sets = new KernelSets({ prefix: PREFIX, ipv6: true, runner: lab.gateway.runner, onError: (message) => expect.fail(message) });
      // What the live sensor does with a peer event (live/sensor.ts follow).
      for (const peer of peers) sets.addPeer(peer.ip, peer.port, peer.transport, 600);
      await sets.flush();
      expect(await probe()).toEqual({ tcp: true, udp: false });
    } finally {
      await lab.dispose();
    }
  }, 60_000);
});
