import { describe, expect, it } from 'vitest';
import { CtlError, EXIT } from '../../src/ctl/client.js';
import { allowAddBody, allowQuery, decisionAddBody, decisionDeleteId, decisionsQuery, incidentsQuery, paths } from '../../src/ctl/requests.js';
import { endpointArgument, ipArgument, parseTarget, peerArgument, targetText } from '../../src/ctl/target.js';

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CtlError);
    expect((error as CtlError).exitCode).toBe(EXIT.usage);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('p2pwall CLI targets (IP, IP:PORT, [v6]:PORT)', () => {
  it('parses and canonicalises addresses and endpoints', () => {
    expect(parseTarget('198.51.100.9')).toEqual({ ip: '198.51.100.9', port: 0 });
    expect(parseTarget(' 198.51.100.9:1214 ')).toEqual({ ip: '198.51.100.9', port: 1214 });
    expect(parseTarget('2001:DB8:0:0::1')).toEqual({ ip: '2001:db8::1', port: 0 });
    expect(parseTarget('[2001:db8::1]:6346')).toEqual({ ip: '2001:db8::1', port: 6346 });
    // A bare IPv6 address never hides a port: the last group is part of the address.
    expect(parseTarget('2001:db8::1:1214')).toEqual({ ip: '2001:db8::1:1214', port: 0 });
    expect(targetText({ ip: '2001:db8::1', port: 6346 })).toBe('[2001:db8::1]:6346');
    expect(targetText({ ip: '198.51.100.9', port: 0 })).toBe('198.51.100.9');
  });

  it('refuses what is not an address, a port out of range, and odd brackets', () => {
    for (const bad of ['', 'peer', '198.51.100.300', '198.51.100.9:0', '198.51.100.9:65536', '198.51.100.9:12x', '[198.51.100.9]:80', '2001:db8::1]:80', '[2001:db8::1]', '1.2.3.4:', ':80']) {
      expect(parseTarget(bad), bad).toBeUndefined();
    }
  });

  it('gives commander argument parsers that name the expected form', () => {
    expect(ipArgument('192.168.1.5')).toBe('192.168.1.5');
    expect(() => ipArgument('192.168.1.5:80')).toThrow(/IPv4 or IPv6 address/);
    expect(endpointArgument('[2001:db8::0:1]:80')).toBe('[2001:db8::1]:80');
    expect(() => endpointArgument('198.51.100.9')).toThrow(/IP:PORT/);
    expect(peerArgument('198.51.100.9')).toBe('198.51.100.9');
    expect(() => peerArgument('nope')).toThrow(/IP, IP:PORT or \[IPv6\]:PORT/);
  });
});

describe('p2pwall CLI arguments → API requests', () => {
  it('puts ids and addresses into one URL-encoded path segment each', () => {
    expect(paths.decision('endpoint:[2001:db8::1]:6346')).toBe('/v1/decisions/endpoint%3A%5B2001%3Adb8%3A%3A1%5D%3A6346');
    expect(paths.allow('allow:host:site a/x:192.168.1.5')).toBe('/v1/allowlist/allow%3Ahost%3Asite%20a%2Fx%3A192.168.1.5');
    expect(paths.peer('[2001:db8::1]:6346')).toBe('/v1/peers/%5B2001%3Adb8%3A%3A1%5D%3A6346');
    expect(paths.host('192.168.1.5')).toBe('/v1/hosts/192.168.1.5');
    expect(paths.incident('../x')).toBe('/v1/incidents/..%2Fx');
  });

  it('maps incident filters to the query, leaving out what was not given', () => {
    expect(incidentsQuery({ since: '10m', site: 'a', peer: '198.51.100.9:1214', limit: 5 })).toEqual({ since: '10m', until: undefined, site: 'a', gateway: undefined, host: undefined, protocol: undefined, peer: '198.51.100.9:1214', limit: 5, cursor: undefined });
    expect(Object.values(incidentsQuery({})).every((v) => v === undefined)).toBe(true);
  });

  it('maps decision filters; --simulated only when given', () => {
    expect(decisionsQuery({ scope: 'endpoint', origin: 'manual', site: 's', value: '1.2.3.4:5', simulated: true })).toMatchObject({ scope: 'endpoint', origin: 'manual', site: 's', value: '1.2.3.4:5', simulated: true });
    expect(decisionsQuery({}).simulated).toBeUndefined();
  });

  it('maps allowlist filters', () => {
    expect(allowQuery({ scope: 'host', site: 'a', value: '192.168.1.20', limit: 10, cursor: 'c' })).toEqual({ scope: 'host', site: 'a', value: '192.168.1.20', limit: 10, cursor: 'c' });
  });

  it('builds manual blocks from exactly one of --endpoint, --ip, --host', () => {
    expect(decisionAddBody({ endpoint: '198.51.100.9:1214', reason: ' seen at HQ ', expires: '24h' }, 'alice')).toEqual({ scope: 'endpoint', value: '198.51.100.9:1214', reason: 'seen at HQ', author: 'alice', expires: '24h' });
    expect(decisionAddBody({ ip: '198.51.100.9', reason: 'r', author: 'bob' }, 'alice')).toEqual({ scope: 'ip', value: '198.51.100.9', reason: 'r', author: 'bob' });
    expect(decisionAddBody({ host: '192.168.1.5', site: 'site-a', reason: 'r' }, 'alice')).toEqual({ scope: 'host', value: '192.168.1.5', site: 'site-a', reason: 'r', author: 'alice' });
    expect(usageError(() => decisionAddBody({ reason: 'r' }, 'a'))).toMatch(/exactly one of TARGET \(IP, IP:PORT or NET\/LEN\), --endpoint/);
    expect(usageError(() => decisionAddBody({ ip: '1.2.3.4', host: '10.0.0.1', site: 's', reason: 'r' }, 'a'))).toMatch(/exactly one/);
    expect(usageError(() => decisionAddBody({ host: '10.0.0.1', reason: 'r' }, 'a'))).toMatch(/needs --site/);
    expect(usageError(() => decisionAddBody({ ip: '1.2.3.4', site: 's', reason: 'r' }, 'a'))).toMatch(/--site only goes with a host/);
    expect(usageError(() => decisionAddBody({ ip: '1.2.3.4', reason: '  ' }, 'a'))).toMatch(/--reason is required/);
  });

  it('sends --transport with --endpoint or --ip (none: the brain blocks both), never with --host', () => {
    expect(decisionAddBody({ endpoint: '198.51.100.9:1214', transport: 'udp', reason: 'r' }, 'alice')).toEqual({ scope: 'endpoint', value: '198.51.100.9:1214', transport: 'udp', reason: 'r', author: 'alice' });
    expect(decisionAddBody({ ip: '198.51.100.9', transport: 'both', reason: 'r' }, 'alice')).toMatchObject({ scope: 'ip', transport: 'both' });
    expect(decisionAddBody({ ip: '198.51.100.9', reason: 'r' }, 'alice')).not.toHaveProperty('transport');
    expect(usageError(() => decisionAddBody({ host: '10.0.0.1', site: 's', transport: 'tcp', reason: 'r' }, 'a'))).toMatch(/--transport goes with --endpoint, --ip or --network/);
  });

  it('names the decision to delete by its id, or by what it blocks and for which transport', () => {
    expect(decisionDeleteId('endpoint:udp:198.51.100.9:1214', {})).toBe('endpoint:udp:198.51.100.9:1214');
    expect(decisionDeleteId(undefined, { endpoint: '198.51.100.9:1214' })).toBe('endpoint:198.51.100.9:1214');
    expect(decisionDeleteId(undefined, { endpoint: '[2001:db8::9]:6346', transport: 'udp' })).toBe('endpoint:udp:[2001:db8::9]:6346');
    expect(decisionDeleteId(undefined, { ip: '198.51.100.9', transport: 'tcp' })).toBe('ip:tcp:198.51.100.9');
    expect(decisionDeleteId(undefined, { host: '192.168.1.5', site: 'site-a' })).toBe('host:site-a:192.168.1.5');
    expect(usageError(() => decisionDeleteId(undefined, {}))).toMatch(/exactly one of --endpoint IP:PORT, --ip IP, --network NET\/LEN or --host IP --site S, or a decision id/);
    expect(usageError(() => decisionDeleteId('ip:198.51.100.9', { ip: '198.51.100.9' }))).toMatch(/not both/);
    expect(usageError(() => decisionDeleteId('endpoint:sctp:198.51.100.9:1214', {}))).toMatch(/is not a decision id/);
    expect(usageError(() => decisionDeleteId(undefined, { host: '192.168.1.5' }))).toMatch(/--host needs --site/);
    expect(usageError(() => decisionDeleteId(undefined, { host: '192.168.1.5', site: 's', transport: 'udp' }))).toMatch(/--transport goes with --endpoint, --ip or --network/);
    expect(usageError(() => decisionDeleteId(undefined, { ip: '198.51.100.9', site: 's' }))).toMatch(/--site only goes with --host/);
  });

  it('takes a network by --network or a bare TARGET (IP, IP:PORT, NET/LEN), with --site and --transport; refuses a port with it', () => {
    expect(decisionAddBody({ reason: 'r' }, 'a', '198.51.100.0/24')).toEqual({ scope: 'network', value: '198.51.100.0/24', reason: 'r', author: 'a' });
    expect(decisionAddBody({ reason: 'r' }, 'a', '2001:DB8:7::/48')).toMatchObject({ scope: 'network', value: '2001:db8:7::/48' });
    expect(decisionAddBody({ network: '198.51.100.0/24', site: 'hq', transport: 'udp', reason: 'r' }, 'a')).toEqual({ scope: 'network', value: '198.51.100.0/24', site: 'hq', transport: 'udp', reason: 'r', author: 'a' });
    expect(decisionAddBody({ reason: 'r' }, 'a', '198.51.100.9')).toMatchObject({ scope: 'ip', value: '198.51.100.9' });
    expect(decisionAddBody({ reason: 'r' }, 'a', '198.51.100.9:1214')).toMatchObject({ scope: 'endpoint', value: '198.51.100.9:1214' });
    expect(usageError(() => decisionAddBody({ reason: 'r' }, 'a', '198.51.100.7/24'))).toMatch(/did you mean 198\.51\.100\.0\/24\?/);
    expect(usageError(() => decisionAddBody({ reason: 'r' }, 'a', '198.51.100.0/24:80'))).toMatch(/a network block holds for every port/);
    expect(usageError(() => decisionAddBody({ ip: '198.51.100.9', reason: 'r' }, 'a', '198.51.100.0/24'))).toMatch(/exactly one of TARGET/);
    expect(decisionDeleteId(undefined, { network: '198.51.100.0/24' })).toBe('net:198.51.100.0/24');
    expect(decisionDeleteId(undefined, { network: '198.51.100.0/24', transport: 'udp', site: 'hq' })).toBe('net:udp:198.51.100.0/24@hq');
    expect(decisionDeleteId('net:tcp:2001:db8::/32', {})).toBe('net:tcp:2001:db8::/32');
  });

  it('derives the allowlist scope from the target and --site, or takes --scope', () => {
    expect(allowAddBody('192.168.1.20', { site: 'site-a', reason: 'printer' }, 'ops')).toEqual({ scope: 'host', value: '192.168.1.20', site: 'site-a', reason: 'printer', author: 'ops' });
    expect(allowAddBody('198.51.100.7', { reason: 'partner' }, 'ops')).toEqual({ scope: 'ip', value: '198.51.100.7', reason: 'partner', author: 'ops' });
    expect(allowAddBody('[2001:db8::7]:443', { reason: 'cdn', expires: '7d' }, 'ops')).toEqual({ scope: 'endpoint', value: '[2001:db8::7]:443', reason: 'cdn', author: 'ops', expires: '7d' });
    expect(allowAddBody('198.51.100.7', { scope: 'ip', reason: 'r' }, 'ops').scope).toBe('ip');
    expect(usageError(() => allowAddBody('198.51.100.7', { scope: 'endpoint', reason: 'r' }, 'ops'))).toMatch(/needs IP:PORT/);
    expect(usageError(() => allowAddBody('198.51.100.7:80', { scope: 'host', site: 's', reason: 'r' }, 'ops'))).toMatch(/takes a bare IP/);
    expect(usageError(() => allowAddBody('198.51.100.7', { scope: 'host', reason: 'r' }, 'ops'))).toMatch(/needs --site/);
    expect(usageError(() => allowAddBody('198.51.100.7:80', { site: 's', reason: 'r' }, 'ops'))).toMatch(/--site only goes with a host/);
    expect(usageError(() => allowAddBody('bogus', { reason: 'r' }, 'ops'))).toMatch(/not IP, IP:PORT/);
  });
});
