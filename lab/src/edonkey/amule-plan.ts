/**
 * The lab's real eMule network as data: where the outside aMule nodes live, which Kad IDs they
 * have, and the files that make `amuled` (Debian's amule-daemon) run there: amule.conf,
 * preferencesKad.dat and nodes.dat. Pure: nothing runs here, so the plan is tested without root.
 *
 * The nodes sit at 203.0.113.181–183 and 198.51.100.182, clear of the FastTrack peer cache, the
 * BitTorrent swarm (.160/28) and the lab's services. Each outside node is given its Kad ID (its
 * preferencesKad.dat), so that the others' nodes.dat and the inside client's bootstrap file name
 * it by its real ID: aMule obfuscates a Kad datagram with a key made from the receiver's ID, and
 * a made-up ID leaves the receiver unable to read it.
 */
import { createHash } from 'node:crypto';
import { formatEndpoint, type Endpoint } from '../netns/addresses.js';

export interface AmuleNodePlan {
  /** o1, o2, … outside; `inside` for the client behind the gateway. */
  name: string;
  ip: string;
  tcpPort: number;
  udpPort: number;
  /** External Connections (amulecmd) port, on the node's own address. */
  ecPort: number;
  /** The node's Kad ID, as aMule stores it (four 32-bit words, each little-endian). */
  kadId: Uint8Array;
}

/**
 * aMule's protocol obfuscation settings for every node of a run:
 * - `clear`: obfuscation off (IsClientCryptLayerSupported=0): every eDonkey and Kad byte in clear.
 * - `requested`: aMule's defaults (supported and requested, not required): Kad datagrams to nodes
 *   whose ID is known are obfuscated; a TCP connection to a source known only by ip:port (no user
 *   hash to key RC4 with) starts in clear.
 * - `required`: supported, requested and required on every node: nothing in clear that aMule can avoid.
 */
export const OBFUSCATION_MODES = ['clear', 'requested', 'required'] as const;
export type ObfuscationMode = (typeof OBFUSCATION_MODES)[number];

/** The EC password of every lab node (amulecmd -P); only reachable inside the lab's namespaces. */
export const EC_PASSWORD = 'p2pwall-lab';

/** Kad version the nodes announce (aMule 2.3.3 speaks Kad 9; contacts of version ≥ 6 may be obfuscated to). */
const CONTACT_KAD_VERSION = 8;

/** A Kad ID of the lab: 16 bytes derived from a name (stable, unlike aMule's random first ID). */
export function labKadId(name: string): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(`p2pwall-lab-kad:${name}`).digest().subarray(0, 16));
}

const OUTSIDE: readonly [string, string, number][] = [
  ['o1', '203.0.113.181', 4662],
  ['o2', '198.51.100.182', 5662],
  ['o3', '203.0.113.183', 6662],
];

/** Outside nodes: eMule's default ports for the first, other ports for the rest (aMule's UDP port is its TCP port + 10 here). */
export const OUTSIDE_NODES: readonly AmuleNodePlan[] = OUTSIDE.map(([name, ip, tcpPort]) => ({ name, ip, tcpPort, udpPort: tcpPort + 10, ecPort: 4712, kadId: labKadId(name) }));

/** The inside client (eMule's default ports 4662/4672) at an inside host's address. */
export function insideNode(ip: string): AmuleNodePlan {
  return { name: 'inside', ip, tcpPort: 4662, udpPort: 4672, ecPort: 4712, kadId: labKadId('inside') };
}

/** The shared file an outside node offers: made of seeded random bytes, hashed by aMule's own tool. */
export interface SharedFile {
  name: string;
  size: number;
  /** The ed2k (MD4 chunk) hash, 32 hex digits. */
  hash: string;
}

/** 1 MiB: aMule's upload to a new client ramps up slowly (about 100 KB/s in the lab), so a download takes some 10 s. */
export const LAB_FILE = { name: 'p2pwall-lab-file.bin', size: 1024 * 1024 } as const;

/** An ed2k link naming its sources (`|sources,ip:port|`): a download that needs no server and no Kad search. */
export function ed2kLink(file: SharedFile, sources: readonly Endpoint[] = []): string {
  const base = `ed2k://|file|${file.name}|${file.size}|${file.hash}|/`;
  return sources.length === 0 ? base : `${base}|sources,${sources.map(formatEndpoint).join(',')}|/`;
}

const CRYPT: Record<ObfuscationMode, [number, number, number]> = {
  clear: [0, 0, 0],
  requested: [1, 1, 0],
  required: [1, 1, 1],
};

/**
 * amule.conf for a node in `dir`: Kad on, eD2k servers off (the lab has none), every socket on
 * the node's own address, nothing fetched from the internet (no nodes.dat or server.met URL, no
 * version check, no GeoIP), LAN addresses not filtered (the inside client is 192.168.x, as seen
 * by the outside nodes: the lab's gateways route, they do not NAT), no IP filter, External
 * Connections on the node's address for amulecmd. Upload and download limits are set high: with
 * aMule's "unlimited" (0) a download in the lab stalled after a few hundred KiB.
 */
export function amuleConf(node: AmuleNodePlan, dir: string, mode: ObfuscationMode): string {
  const [supported, requested, required] = CRYPT[mode];
  const passwordMd5 = createHash('md5').update(EC_PASSWORD).digest('hex');
  return [
    '[eMule]',
    'AppVersion=2.3.3',
    `Nick=p2pwall-lab-${node.name}`,
    `Port=${node.tcpPort}`,
    `UDPPort=${node.udpPort}`,
    'UDPEnable=1',
    `Address=${node.ip}`,
    'Autoconnect=1',
    'Reconnect=1',
    'ConnectToKad=1',
    'ConnectToED2K=0',
    'Serverlist=0',
    'AddServerListFromServer=0',
    'AddServerListFromClient=0',
    'UPnPEnabled=0',
    `TempDir=${dir}/Temp`,
    `IncomingDir=${dir}/Incoming`,
    `OSDirectory=${dir}/`,
    'NewVersionCheck=0',
    'GeoIPEnabled=0',
    'FilterLanIPs=0',
    'ParanoidFiltering=0',
    'IPFilterAutoLoad=0',
    'IPFilterURL=',
    'KadNodesUrl=',
    'Ed2kServersUrl=',
    'CheckDiskspace=0',
    'ConfirmExit=0',
    'MaxUpload=50000',
    'MaxDownload=50000',
    'UploadCapacity=100000',
    'DownloadCapacity=100000',
    'SlotAllocation=100000',
    '[ExternalConnect]',
    'AcceptExternalConnections=1',
    `ECAddress=${node.ip}`,
    `ECPort=${node.ecPort}`,
    `ECPassword=${passwordMd5}`,
    'IpFilterClients=0',
    'IpFilterServers=0',
    'UseSecIdent=1',
    '[WebServer]',
    'Enabled=0',
    '[Obfuscation]',
    `IsClientCryptLayerSupported=${supported}`,
    `IsCryptLayerRequested=${requested}`,
    `IsClientCryptLayerRequired=${required}`,
    '',
  ].join('\n');
}

/** preferencesKad.dat: the last known IP (0), a reserved word, the Kad ID, one reserved byte (23 bytes, as aMule writes it). */
export function preferencesKad(kadId: Uint8Array): Buffer {
  return Buffer.concat([Buffer.alloc(6), Buffer.from(kadId), Buffer.alloc(1)]);
}

/** A contact as nodes.dat stores it: ID, IPv4 as a little-endian host-order number (octets reversed), UDP and TCP ports (LE), Kad version. */
function contact(node: AmuleNodePlan): Buffer {
  const out = Buffer.alloc(25);
  Buffer.from(node.kadId).copy(out, 0);
  const octets = node.ip.split('.').map(Number);
  out.writeUInt32LE(((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0, 16);
  out.writeUInt16LE(node.udpPort, 20);
  out.writeUInt16LE(node.tcpPort, 22);
  out.writeUInt8(CONTACT_KAD_VERSION, 24);
  return out;
}

/**
 * nodes.dat in aMule's bootstrap format (a zero count, version 3, bootstrap edition 1, then the
 * contacts): the client sends KADEMLIA2_BOOTSTRAP_REQ to them one by one, as a fresh client does
 * with the nodes.dat it downloads on first start.
 */
export function bootstrapNodesDat(contacts: readonly AmuleNodePlan[]): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(3, 4);
  head.writeUInt32LE(1, 8);
  head.writeUInt32LE(contacts.length, 12);
  return Buffer.concat([head, ...contacts.map(contact)]);
}

/**
 * nodes.dat as a client that ran before keeps it (version 2): contacts with their UDP key (none)
 * and marked verified, straight into the routing table. The outside nodes start with each other
 * this way, so that they answer a bootstrap with contacts from their first second.
 */
export function routingNodesDat(contacts: readonly AmuleNodePlan[]): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(2, 4);
  head.writeUInt32LE(contacts.length, 8);
  return Buffer.concat([head, ...contacts.map((node) => Buffer.concat([contact(node), Buffer.alloc(8), Buffer.from([1])]))]);
}
