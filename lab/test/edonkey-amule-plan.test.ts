import { describe, expect, it } from 'vitest';
import { amuleConf, bootstrapNodesDat, ed2kLink, insideNode, labKadId, OUTSIDE_NODES, preferencesKad, routingNodesDat } from '../src/edonkey/amule-plan.js';
import { parseWireLine } from '../src/edonkey/wire-log.js';

describe('the lab’s aMule network plan', () => {
  it('outside nodes on documentation addresses, each with its own ports and a stable Kad ID', () => {
    expect(OUTSIDE_NODES.map((node) => `${node.ip} ${node.tcpPort}/${node.udpPort}`)).toEqual(['203.0.113.181 4662/4672', '198.51.100.182 5662/5672', '203.0.113.183 6662/6672']);
    expect(new Set(OUTSIDE_NODES.map((node) => Buffer.from(node.kadId).toString('hex'))).size).toBe(3);
    expect(labKadId('o1')).toEqual(labKadId('o1'));
    expect(insideNode('192.168.1.5')).toMatchObject({ ip: '192.168.1.5', tcpPort: 4662, udpPort: 4672 });
  });

  it('a bootstrap nodes.dat: zero count, version 3, edition 1, then 25-byte contacts with the octets reversed and LE ports', () => {
    const file = bootstrapNodesDat([OUTSIDE_NODES[0]!]);
    expect(file.subarray(0, 16).toString('hex')).toBe('00000000' + '03000000' + '01000000' + '01000000');
    expect(file.length).toBe(16 + 25);
    expect(Buffer.from(file.subarray(16, 32))).toEqual(Buffer.from(OUTSIDE_NODES[0]!.kadId));
    // 203.0.113.181 as a little-endian host-order number, UDP 4672, TCP 4662, Kad version 8.
    expect(file.subarray(32).toString('hex')).toBe('b57100cb' + '4012' + '3612' + '08');
  });

  it('a routing nodes.dat (version 2): each contact with an empty UDP key and marked verified', () => {
    const file = routingNodesDat(OUTSIDE_NODES.slice(1));
    expect(file.subarray(0, 12).toString('hex')).toBe('00000000' + '02000000' + '02000000');
    expect(file.length).toBe(12 + 2 * 34);
    expect(file[12 + 33]).toBe(1);
  });

  it('preferencesKad.dat holds the Kad ID after 6 bytes, 23 bytes in all', () => {
    const file = preferencesKad(labKadId('x'));
    expect(file.length).toBe(23);
    expect(Buffer.from(file.subarray(6, 22))).toEqual(Buffer.from(labKadId('x')));
  });

  it('amule.conf: Kad on, servers off, the node’s address, obfuscation per mode, EC on', () => {
    const conf = amuleConf(OUTSIDE_NODES[1]!, '/tmp/x', 'required');
    for (const line of ['Port=5662', 'UDPPort=5672', 'Address=198.51.100.182', 'ConnectToKad=1', 'ConnectToED2K=0', 'KadNodesUrl=', 'FilterLanIPs=0', 'AcceptExternalConnections=1', 'ECAddress=198.51.100.182', 'IsClientCryptLayerSupported=1', 'IsCryptLayerRequested=1', 'IsClientCryptLayerRequired=1']) {
      expect(conf.split('\n')).toContain(line);
    }
    expect(amuleConf(OUTSIDE_NODES[1]!, '/tmp/x', 'clear').split('\n')).toContain('IsClientCryptLayerSupported=0');
    expect(amuleConf(OUTSIDE_NODES[1]!, '/tmp/x', 'requested').split('\n')).toContain('IsClientCryptLayerRequired=0');
  });

  it('ed2k links, with and without sources', () => {
    const file = { name: 'f.bin', size: 1024, hash: '0123456789abcdef0123456789abcdef' };
    expect(ed2kLink(file)).toBe('ed2k://|file|f.bin|1024|0123456789abcdef0123456789abcdef|/');
    expect(ed2kLink(file, [{ ip: '203.0.113.181', port: 4662 }])).toBe('ed2k://|file|f.bin|1024|0123456789abcdef0123456789abcdef|/|sources,203.0.113.181:4662|/');
  });

  it('reads tcpdump -tt -q lines', () => {
    expect(parseWireLine('1796628742.422123 IP 192.168.1.5.4672 > 203.0.113.181.4672: UDP, length 2')).toEqual({ time: 1796628742422, src: '192.168.1.5', srcPort: 4672, dst: '203.0.113.181', dstPort: 4672, transport: 'udp', length: 2 });
    expect(parseWireLine('1796628742.000999 IP 203.0.113.181.4662 > 192.168.1.5.41509: tcp 1448')).toMatchObject({ time: 1796628742000, transport: 'tcp', length: 1448, srcPort: 4662 });
    expect(parseWireLine('1796628742.000999 ARP, Request who-has 198.18.0.1')).toBeUndefined();
  });
});
