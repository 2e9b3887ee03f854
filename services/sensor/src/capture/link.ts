/**
 * Finds the IP header inside a captured frame for the link types captures come in. Called once
 * per packet, so it allocates nothing and reads bytes directly.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as most systems number it; files written there may carry the DLT value. */
export const DLT_RAW = 12;
/** DLT_RAW as OpenBSD numbers it. */
export const DLT_RAW_OPENBSD = 14;
export const LINKTYPE_RAW = 101;
/** OpenBSD loopback: like NULL but the address family is in network byte order. */
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** A well-formed frame that carries no IP packet (ARP, LLDP, 802.3 length frames, other ethertypes): normal traffic. */
export const LINK_NOT_IP = -1;
/** A frame whose link header is cut short or damaged, or a link type we cannot read: worth counting. */
export const LINK_MALFORMED = -2;

/** Deepest stack of VLAN tags followed (QinQ uses two; more means a damaged or hostile frame). */
export const MAX_VLAN_TAGS = 8;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad service tag
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ
const ETHERTYPE_PPPOE_SESSION = 0x8864;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPPOE_HEADER_LENGTH = 6;

const AF_INET = 2;
/** AF_INET6 differs between BSDs: NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30. */
const AF_INET6_NETBSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;

const ETHERNET_HEADER_LENGTH = 14;
const SLL_HEADER_LENGTH = 16;
const SLL2_HEADER_LENGTH = 20;
const NULL_HEADER_LENGTH = 4;

const SUPPORTED_LINK_TYPES: ReadonlySet<number> = new Set([
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  DLT_RAW,
  DLT_RAW_OPENBSD,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
]);

/** Whether locateIp understands this link type (to warn once per file instead of per packet). */
export function isSupportedLinkType(linkType: number): boolean {
  return SUPPORTED_LINK_TYPES.has(linkType);
}

/**
 * The offset of the IP header in `data`, or LINK_NOT_IP / LINK_MALFORMED. The IP header itself is
 * not checked: decodeIp does that.
 */
export function locateIp(linkType: number, data: Uint8Array): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (data.length < ETHERNET_HEADER_LENGTH) return LINK_MALFORMED;
      return afterEthertype(data, (data[12]! << 8) | data[13]!, ETHERNET_HEADER_LENGTH);
    case LINKTYPE_RAW:
    case DLT_RAW:
    case DLT_RAW_OPENBSD:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return data.length > 0 ? 0 : LINK_MALFORMED;
    case LINKTYPE_LINUX_SLL:
      if (data.length < SLL_HEADER_LENGTH) return LINK_MALFORMED;
      return afterEthertype(data, (data[14]! << 8) | data[15]!, SLL_HEADER_LENGTH);
    case LINKTYPE_LINUX_SLL2:
      if (data.length < SLL2_HEADER_LENGTH) return LINK_MALFORMED;
      return afterEthertype(data, (data[0]! << 8) | data[1]!, SLL2_HEADER_LENGTH);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return afterAddressFamily(data);
    default:
      return LINK_MALFORMED;
  }
}

/**
 * Follows an ethertype whose payload starts at `offset` through VLAN tags (each: 2 bytes of tag
 * control, then the next ethertype) and PPPoE sessions to the IP header.
 */
function afterEthertype(data: Uint8Array, ethertype: number, offset: number): number {
  let type = ethertype;
  let cursor = offset;
  for (let tags = 0; type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD; tags++) {
    if (tags === MAX_VLAN_TAGS || cursor + 4 > data.length) return LINK_MALFORMED;
    type = (data[cursor + 2]! << 8) | data[cursor + 3]!;
    cursor += 4;
  }
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return cursor;
  if (type === ETHERTYPE_PPPOE_SESSION) return afterPppoe(data, cursor);
  // Type values up to 1500 are 802.3 lengths (LLC, STP, …); the rest are ARP, LLDP, MPLS, ….
  return LINK_NOT_IP;
}

/** PPPoE session header (version/type, code, session id, length), then the PPP protocol number. */
function afterPppoe(data: Uint8Array, offset: number): number {
  if (offset + PPPOE_HEADER_LENGTH + 2 > data.length) return LINK_MALFORMED;
  const protocol = (data[offset + PPPOE_HEADER_LENGTH]! << 8) | data[offset + PPPOE_HEADER_LENGTH + 1]!;
  if (protocol === PPP_IPV4 || protocol === PPP_IPV6) return offset + PPPOE_HEADER_LENGTH + 2;
  return LINK_NOT_IP; // LCP, IPCP, … : PPP's own control traffic
}

/**
 * BSD loopback: a 4-byte address family in the capturing machine's byte order, which the file
 * does not record. Families are small numbers, so of the two readings the small one is right.
 */
function afterAddressFamily(data: Uint8Array): number {
  if (data.length < NULL_HEADER_LENGTH) return LINK_MALFORMED;
  const little = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  const big = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  const family = little < big ? little : big;
  if (family === AF_INET || family === AF_INET6_NETBSD || family === AF_INET6_FREEBSD || family === AF_INET6_DARWIN) return NULL_HEADER_LENGTH;
  return LINK_NOT_IP;
}

/** Readable name of a link type, for reports and warnings. */
export function linkTypeName(linkType: number): string {
  switch (linkType) {
    case LINKTYPE_NULL:
      return 'BSD loopback (NULL)';
    case LINKTYPE_ETHERNET:
      return 'Ethernet';
    case DLT_RAW:
    case DLT_RAW_OPENBSD:
    case LINKTYPE_RAW:
      return 'raw IP';
    case LINKTYPE_LOOP:
      return 'OpenBSD loopback';
    case LINKTYPE_LINUX_SLL:
      return 'Linux cooked (SLL)';
    case LINKTYPE_IPV4:
      return 'raw IPv4';
    case LINKTYPE_IPV6:
      return 'raw IPv6';
    case LINKTYPE_LINUX_SLL2:
      return 'Linux cooked v2 (SLL2)';
    default:
      return `link type ${linkType}`;
  }
}
