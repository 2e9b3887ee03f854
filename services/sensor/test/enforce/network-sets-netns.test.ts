import { describe, expect, it } from 'vitest';
import { installRules, removeRules } from '../../src/enforce/iptables.js';
import { KernelSets } from '../../src/enforce/kernel-sets.js';
import { DEFAULT_KERNEL_POLICY, type KernelPolicy } from '../../src/enforce/rules.js';
import { createRoutedLab, LAB, netnsSkipReason, reachability, startEchoServer, startUdpEchoServer, titleWithSkipReason, tryConnect, tryUdpEcho } from '../support/netns.js';

/**
 * Network blocks in the kernel (hash:net sets and the network chain), with no sensor listening:
 * what the kernel alone drops, and the allow-entry exceptions it lets through.
 */

const prefix = 'p2pwcd';
const policy: KernelPolicy = { ...structuredClone(DEFAULT_KERNEL_POLICY), prefix };

describe.skipIf(netnsSkipReason() !== null)(titleWithSkipReason('network blocks in a network namespace'), () => {
  it('drops a blocked network for its transport, lets allowed addresses and endpoints inside it through, and forgets it on removal', async () => {
    const lab = await createRoutedLab();
    try {
      // 203.0.113.16/28 holds .17 and .18; .40 is a neighbour outside it; the v6 server is in 2001:db8:2::/120.
      const inside = ['203.0.113.17', '203.0.113.18'];
      const outside = '203.0.113.40';
      for (const ip of [...inside, outside]) await lab.server.exec('ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      const targets = [...[...inside, outside].flatMap((ip) => [`${ip}:1214`, `${ip}:8080`]), `[${LAB.server6}]:1214`];
      await startEchoServer(lab.server, [1214, 8080]);
      await startUdpEchoServer(lab.server, targets);
      const probe = async (): Promise<{ tcp: Record<string, boolean>; udp: Record<string, boolean> }> => {
        const [tcp, udp] = await Promise.all([tryConnect(lab.client, targets), tryUdpEcho(lab.client, targets)]);
        return { tcp: reachability(tcp), udp: reachability(udp) };
      };
      const only = (reachable: readonly string[]): Record<string, boolean> => Object.fromEntries(targets.map((target) => [target, reachable.includes(target)]));
      const everywhere = only(targets);

      await installRules(policy, { runner: lab.gateway.runner });
      expect(await probe()).toEqual({ tcp: everywhere, udp: everywhere });

      const sets = new KernelSets({ prefix, ipv6: true, runner: lab.gateway.runner, onError: (message) => expect.fail(message) });
      sets.addNetwork('203.0.113.16/28', 'both', 600);
      sets.addNetwork('2001:db8:2::/120', 'tcp', 600);
      await sets.flush();
      const outsideOnly = only([`${outside}:1214`, `${outside}:8080`]);
      expect(await probe()).toEqual({ tcp: outsideOnly, udp: { ...outsideOnly, [`[${LAB.server6}]:1214`]: true } });

      // Allow entries inside the network: one whole address, one endpoint (both transports).
      sets.exceptFromNetworks('203.0.113.17', 0, 600);
      sets.exceptFromNetworks('203.0.113.18', 1214, 600);
      await sets.flush();
      const excepted = only([`${outside}:1214`, `${outside}:8080`, '203.0.113.17:1214', '203.0.113.17:8080', '203.0.113.18:1214']);
      expect(await probe()).toEqual({ tcp: excepted, udp: { ...excepted, [`[${LAB.server6}]:1214`]: true } });

      // The exception ends with its allow entry; the network block stays.
      sets.endNetworkException('203.0.113.17', 0);
      await sets.flush();
      const withoutFirst = only([`${outside}:1214`, `${outside}:8080`, '203.0.113.18:1214']);
      expect((await probe()).tcp).toEqual(withoutFirst);

      sets.removeNetwork('203.0.113.16/28', 'both');
      sets.removeNetwork('2001:db8:2::/120', 'tcp');
      await sets.flush();
      expect(await probe()).toEqual({ tcp: everywhere, udp: everywhere });
      const { stdout } = await lab.gateway.exec('ipset', ['list', `${prefix}-net4`]);
      expect(stdout).toMatch(/Number of entries: 0/);
      expect(sets.stats).toMatchObject({ failed: 0, pending: 0 });
    } finally {
      await removeRules({ prefix }, { runner: lab.gateway.runner }).catch(() => undefined);
      await lab.dispose();
    }
  });
});
