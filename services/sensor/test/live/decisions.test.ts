import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import { decisionEffect } from '../../src/live/decisions.js';

const { Scope, Action, Origin, Transport } = p2pwall.v1;
const v4 = Uint8Array.from([203, 0, 113, 9]);
const host = Uint8Array.from([192, 168, 1, 5]);

describe('shared decisions mapped to this sensor', () => {
  it('blocks an endpoint, or a whole address, at every site', () => {
    expect(decisionEffect({ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK, origin: Origin.ORIGIN_CORRELATION, ip: v4, port: 1214, expiresMs: 5000 }, 'b', false)).toEqual({
      kind: 'block-peer', ip: '203.0.113.9', port: 1214, transport: 'both', expiresAt: 5000, via: 'shared:correlation',
    });
    expect(decisionEffect({ scope: Scope.SCOPE_IP, action: Action.ACTION_BLOCK, origin: Origin.ORIGIN_SIGNATURE, ip: Uint8Array.from([0x20, 1, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 9]), port: 99 }, 'b', false)).toMatchObject({ kind: 'block-peer', ip: '2001:db8::9', port: 0, transport: 'both' });
    expect(decisionEffect({ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK, ip: v4, port: 1214 }, 'b', true)).toEqual({ kind: 'unblock-peer', ip: '203.0.113.9', port: 1214, transport: 'both' });
  });

  it('blocks and unblocks a peer for the transport the decision names (absent: both, as an older brain meant it)', () => {
    const udp = { scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK, origin: Origin.ORIGIN_SIGNATURE, ip: v4, port: 1214, expiresMs: 5000, transport: Transport.TRANSPORT_UDP };
    expect(decisionEffect(udp, 'b', false)).toEqual({ kind: 'block-peer', ip: '203.0.113.9', port: 1214, transport: 'udp', expiresAt: 5000, via: 'shared:signature' });
    expect(decisionEffect(udp, 'b', true)).toEqual({ kind: 'unblock-peer', ip: '203.0.113.9', port: 1214, transport: 'udp' });
    expect(decisionEffect({ ...udp, scope: Scope.SCOPE_IP, transport: Transport.TRANSPORT_TCP }, 'b', false)).toMatchObject({ kind: 'block-peer', port: 0, transport: 'tcp' });
    expect(decisionEffect({ ...udp, transport: undefined }, 'b', false)).toMatchObject({ kind: 'block-peer', transport: 'both' });
    expect(decisionEffect({ ...udp, origin: 42 as p2pwall.v1.Origin }, 'b', false)).toMatchObject({ kind: 'block-peer', via: 'shared:unknown' });
  });

  it('locks a host only at its own site (or every site when the site is empty)', () => {
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_BLOCK, ip: host, site: 'a', expiresMs: 9000 }, 'a', false)).toEqual({ kind: 'lock-host', ip: '192.168.1.5', lockedUntil: 9000 });
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_BLOCK, ip: host, site: 'a' }, 'b', false)).toMatchObject({ kind: 'none' });
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_BLOCK, ip: host, site: '' }, 'b', false)).toMatchObject({ kind: 'lock-host' });
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_BLOCK, ip: host, site: 'a' }, 'a', true)).toEqual({ kind: 'unlock-host', ip: '192.168.1.5' });
  });

  it('lets allow entries lift blocks and locks, and never enforces simulated or unusable decisions', () => {
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_ALLOW, ip: host, site: 'a', expiresMs: 7000 }, 'a', false)).toEqual({ kind: 'allow-host', ip: '192.168.1.5', allowedUntil: 7000 });
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_ALLOW, ip: host, site: 'a' }, 'a', true)).toEqual({ kind: 'disallow-host', ip: '192.168.1.5' });
    expect(decisionEffect({ scope: Scope.SCOPE_HOST, action: Action.ACTION_ALLOW, ip: host, site: 'a' }, 'b', false)).toMatchObject({ kind: 'none' });
    expect(decisionEffect({ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_ALLOW, ip: v4, port: 80, expiresMs: 9000 }, 'a', false)).toEqual({ kind: 'allow-peer', ip: '203.0.113.9', port: 80, allowedUntil: 9000 });
    expect(decisionEffect({ scope: Scope.SCOPE_IP, action: Action.ACTION_ALLOW, ip: v4, port: 0, expiresMs: 9000 }, 'a', false)).toEqual({ kind: 'allow-peer', ip: '203.0.113.9', port: 0, allowedUntil: 9000 });
    expect(decisionEffect({ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_ALLOW, ip: v4, port: 80 }, 'a', true)).toEqual({ kind: 'disallow-peer', ip: '203.0.113.9', port: 80 });
    expect(decisionEffect({ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK, ip: v4, port: 80, simulated: true }, 'a', false)).toEqual({ kind: 'none', why: 'simulated' });
    expect(decisionEffect({ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK, ip: Uint8Array.from([1, 2, 3]) }, 'a', false)).toMatchObject({ kind: 'none' });
  });

  it('blocks a network of every site, or of its own site only, for its transport; ignores one of another site', () => {
    const net = Uint8Array.from([198, 51, 100, 0]);
    const network = { scope: Scope.SCOPE_NETWORK, action: Action.ACTION_BLOCK, origin: Origin.ORIGIN_MANUAL, ip: net, prefixLength: 24, expiresMs: 9000 };
    expect(decisionEffect(network, 'b', false)).toEqual({ kind: 'block-network', network: '198.51.100.0/24', transport: 'both', expiresAt: 9000 });
    expect(decisionEffect({ ...network, site: 'b', transport: Transport.TRANSPORT_UDP }, 'b', false)).toEqual({ kind: 'block-network', network: '198.51.100.0/24', transport: 'udp', expiresAt: 9000 });
    expect(decisionEffect({ ...network, site: 'a' }, 'b', false)).toEqual({ kind: 'none', why: 'network of site a' });
    expect(decisionEffect(network, 'b', true)).toEqual({ kind: 'unblock-network', network: '198.51.100.0/24', transport: 'both' });
    const v6 = Uint8Array.from([0x20, 1, 0x0d, 0xb8, 0, 7, ...new Array<number>(10).fill(0)]);
    expect(decisionEffect({ ...network, ip: v6, prefixLength: 48 }, 'b', false)).toMatchObject({ kind: 'block-network', network: '2001:db8:7::/48' });
    // a prefix the kernel's hash:net cannot hold is no block at all
    expect(decisionEffect({ ...network, prefixLength: 0 }, 'b', false)).toMatchObject({ kind: 'none' });
    expect(decisionEffect({ ...network, prefixLength: 33 }, 'b', false)).toMatchObject({ kind: 'none' });
  });
});
