import { isIP } from 'node:net';
import { isTransport, type Transport } from '@p2pwall/common';

/** One learned peer, as one JSON line of the storefile. */
export interface StoredPeer {
  ip: string;
  /** 0: every port of the address. */
  port: number;
  /** Lines written before transports existed have none: they load as `both`, as they were enforced. */
  transport: Transport;
  protocol: string;
  via: string;
  learnedFrom: string | null;
  learnedAt: number;
  expiresAt: number;
}

export interface ParsedStorefile {
  /** Live peers, the latest line for each (ip, port) winning. */
  peers: StoredPeer[];
  /** Lines that were not a valid peer record (a torn last line after a crash, hand edits). */
  invalidLines: number;
  /** Valid lines superseded by a later line or expired: what compaction would remove. */
  obsoleteLines: number;
  /** The file does not end with a newline: the last write was cut short. */
  tornTail: boolean;
}

export function formatStoredPeer(peer: StoredPeer): string {
  return `${JSON.stringify({
    ip: peer.ip,
    port: peer.port,
    transport: peer.transport,
    protocol: peer.protocol,
    via: peer.via,
    learnedFrom: peer.learnedFrom,
    learnedAt: Math.round(peer.learnedAt),
    expiresAt: Math.round(peer.expiresAt),
  })}\n`;
}

export function parseStoredPeer(line: string): StoredPeer | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  const { ip, port, protocol, via, learnedFrom, learnedAt, expiresAt } = record;
  const transport = record['transport'] ?? 'both';
  if (!isTransport(transport)) return null;
  if (typeof ip !== 'string' || isIP(ip) === 0) return null;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return null;
  if (typeof protocol !== 'string' || typeof via !== 'string') return null;
  if (learnedFrom !== null && typeof learnedFrom !== 'string') return null;
  if (typeof learnedAt !== 'number' || typeof expiresAt !== 'number' || !Number.isFinite(learnedAt) || !Number.isFinite(expiresAt)) return null;
  return { ip, port, transport, protocol, via, learnedFrom, learnedAt, expiresAt };
}

/** Reads a storefile's text: expired peers are left out, the latest line per peer wins. */
export function parseStorefile(text: string, now: number): ParsedStorefile {
  const latest = new Map<string, StoredPeer>();
  let invalidLines = 0;
  let validLines = 0;
  const tornTail = text.length > 0 && !text.endsWith('\n');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const peer = parseStoredPeer(line);
    if (!peer) {
      invalidLines++;
      continue;
    }
    validLines++;
    latest.set(`${peer.ip}|${peer.port}|${peer.transport}`, peer);
  }
  const peers = [...latest.values()].filter((peer) => peer.expiresAt > now);
  return { peers, invalidLines, obsoleteLines: validLines - peers.length, tornTail };
}
