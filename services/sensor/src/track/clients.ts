import { formatAddressKey } from '../decode/address.js';
import { BoundedMap } from './bounded-map.js';

/** What one protocol's evidence said about a client. */
export interface ClientProtocol {
  readonly name: string;
  firstEvidence: number;
  lastEvidence: number;
  evidenceCount: number;
}

/** Protocols kept per client: a host runs a handful of P2P clients at most. */
const MAX_PROTOCOLS_PER_CLIENT = 16;

/**
 * An inside host identified as a P2P client (ftwall's "green client"), with every protocol it was
 * identified by, in the order they were first seen. Empty for a host locked on a shared decision
 * alone.
 */
export interface ClientEntry {
  readonly addressKey: string;
  readonly host: string;
  readonly protocols: ClientProtocol[];
  firstSeen: number;
  lastEvidence: number;
  /** New outbound connections are time-locked until then (ms); 0 when never locked. */
  lockedUntil: number;
  /** The lock end last announced, so re-arming is reported sparingly. */
  announcedLockUntil: number;
  evidenceCount: number;
  readonly rules: Set<string>;
}

export interface IdentifyResult {
  entry: ClientEntry;
  /**
   * new: first identification (or again after the lock ran out, or by a protocol not seen on
   * this host before); relocked: the lock was extended by more than half its length since last
   * announced; none: nothing to tell.
   */
  change: 'new' | 'relocked' | 'none';
}

/** The names of a client's protocols, first seen first. */
export function protocolNames(entry: ClientEntry): string[] {
  return entry.protocols.map((protocol) => protocol.name);
}

/** Records one piece of `name`'s evidence; true when the client had none of it before. */
function noteProtocol(entry: ClientEntry, name: string, now: number): boolean {
  for (const known of entry.protocols) {
    if (known.name !== name) continue;
    known.lastEvidence = now;
    known.evidenceCount++;
    return false;
  }
  if (entry.protocols.length >= MAX_PROTOCOLS_PER_CLIENT) return false;
  entry.protocols.push({ name, firstEvidence: now, lastEvidence: now, evidenceCount: 1 });
  return true;
}

/** Rules kept per client (its evidence is counted beyond that, not listed). */
const MAX_RULES_PER_CLIENT = 64;

/** Identified clients by address key, bounded; the least recently active is evicted first. */
export class ClientTable {
  private readonly entries: BoundedMap<string, ClientEntry>;
  /** Hosts an operator allowed (address key → until, ms): identified as usual, never locked. */
  private readonly allowed = new Map<string, number>();

  constructor(
    readonly maxClients: number,
    readonly timeLockMs: number,
  ) {
    this.entries = new BoundedMap(maxClients);
  }

  get size(): number {
    return this.entries.size;
  }

  get evictions(): number {
    return this.entries.evictions;
  }

  get(addressKey: string): ClientEntry | undefined {
    return this.entries.get(addressKey);
  }

  /** Records evidence against an inside host, arming or re-arming its time-lock. */
  identify(addressKey: string, protocol: string, rule: string, now: number): IdentifyResult {
    let entry = this.entries.get(addressKey);
    const lockedUntil = this.timeLockMs > 0 && !this.isAllowed(addressKey, now) ? now + this.timeLockMs : 0;
    if (!entry) {
      entry = {
        addressKey,
        host: formatAddressKey(addressKey),
        protocols: [{ name: protocol, firstEvidence: now, lastEvidence: now, evidenceCount: 1 }],
        firstSeen: now,
        lastEvidence: now,
        lockedUntil,
        announcedLockUntil: lockedUntil,
        evidenceCount: 1,
        rules: new Set([rule]),
      };
      this.entries.set(addressKey, entry);
      return { entry, change: 'new' };
    }
    const wasLocked = entry.lockedUntil > now;
    entry.lastEvidence = now;
    entry.evidenceCount++;
    if (entry.rules.size < MAX_RULES_PER_CLIENT) entry.rules.add(rule);
    const newProtocol = noteProtocol(entry, protocol, now);
    entry.lockedUntil = Math.max(entry.lockedUntil, lockedUntil);
    this.entries.refresh(addressKey, entry);
    if (newProtocol || (this.timeLockMs > 0 && !wasLocked && entry.lockedUntil > now)) {
      entry.announcedLockUntil = entry.lockedUntil;
      return { entry, change: 'new' };
    }
    if (entry.lockedUntil - entry.announcedLockUntil > this.timeLockMs / 2) {
      entry.announcedLockUntil = entry.lockedUntil;
      return { entry, change: 'relocked' };
    }
    return { entry, change: 'none' };
  }

  /** Locks a host on another's word (a shared decision): no evidence of its own here. */
  lock(addressKey: string, lockedUntil: number, now: number): ClientEntry {
    const entry = this.entries.get(addressKey) ?? {
      addressKey,
      host: formatAddressKey(addressKey),
      protocols: [],
      firstSeen: now,
      lastEvidence: now,
      lockedUntil: 0,
      announcedLockUntil: 0,
      evidenceCount: 0,
      rules: new Set<string>(),
    };
    if (!this.isAllowed(addressKey, now)) entry.lockedUntil = Math.max(entry.lockedUntil, lockedUntil);
    entry.announcedLockUntil = entry.lockedUntil;
    this.entries.set(addressKey, entry);
    return entry;
  }

  /** An operator's allow entry: lifts the lock and keeps the host from being locked until then. */
  allow(addressKey: string, until: number): void {
    this.allowed.set(addressKey, until);
    this.unlock(addressKey);
  }

  /** The allow entry ended or was withdrawn. */
  disallow(addressKey: string): boolean {
    return this.allowed.delete(addressKey);
  }

  isAllowed(addressKey: string, now: number): boolean {
    const until = this.allowed.get(addressKey);
    if (until === undefined) return false;
    if (until > now) return true;
    this.allowed.delete(addressKey);
    return false;
  }

  isLocked(entry: ClientEntry | null | undefined, now: number): boolean {
    return entry !== null && entry !== undefined && entry.lockedUntil > now;
  }

  /** Lifts a lock (an operator's allow, or the lock's host vanished). */
  unlock(addressKey: string): boolean {
    const entry = this.entries.get(addressKey);
    if (!entry) return false;
    entry.lockedUntil = 0;
    entry.announcedLockUntil = 0;
    return true;
  }

  values(): IterableIterator<ClientEntry> {
    return this.entries.values();
  }
}
