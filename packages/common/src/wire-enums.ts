/**
 * The wire's enums (proto/p2pwall.proto) and the names services, the API and metrics write for
 * them: one mapping each, so no hop keeps a table of its own.
 */
import { p2pwall } from '@p2pwall/proto';
import type { OriginName } from './decisions.js';
import type { Transport } from './formats.js';

const { Origin } = p2pwall.v1;
const WIRE_TRANSPORT = p2pwall.v1.Transport;

const ORIGINS: Record<OriginName, p2pwall.v1.Origin> = { signature: Origin.ORIGIN_SIGNATURE, correlation: Origin.ORIGIN_CORRELATION, manual: Origin.ORIGIN_MANUAL };
const ORIGIN_BY_WIRE = new Map<number, OriginName>(Object.entries(ORIGINS).map(([name, value]) => [value, name as OriginName]));

export function wireOrigin(name: OriginName): p2pwall.v1.Origin {
  return ORIGINS[name];
}

/** The name of a wire origin; undefined for ORIGIN_UNSPECIFIED and values this contract does not know (a newer writer). */
export function originName(origin: number | null | undefined): OriginName | undefined {
  return ORIGIN_BY_WIRE.get(origin ?? 0);
}

/** What metrics and logs write for a wire origin: its name, or `unknown` (label values stay a small, fixed set). */
export function originLabel(origin: number | null | undefined): OriginName | 'unknown' {
  return originName(origin) ?? 'unknown';
}

const TRANSPORTS: Record<Transport, p2pwall.v1.Transport> = { both: WIRE_TRANSPORT.TRANSPORT_BOTH, tcp: WIRE_TRANSPORT.TRANSPORT_TCP, udp: WIRE_TRANSPORT.TRANSPORT_UDP };

export function wireTransport(transport: Transport): p2pwall.v1.Transport {
  return TRANSPORTS[transport];
}

/**
 * The transport a wire value means. Absent or 0 is both (what a message from before the field
 * meant); a value this contract does not know (a newer writer) is read as both too, the one
 * reading that does not leave a peer it names unblocked on either transport.
 */
export function transportOfWire(value: number | null | undefined): Transport {
  if (value === WIRE_TRANSPORT.TRANSPORT_TCP) return 'tcp';
  if (value === WIRE_TRANSPORT.TRANSPORT_UDP) return 'udp';
  return 'both';
}
