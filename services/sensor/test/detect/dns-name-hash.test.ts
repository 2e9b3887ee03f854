import { describe, expect, it } from 'vitest';
import { Int32Set } from '../../src/detect/dns/int32-set.js';
import { MAX_NAME_LABELS, type HashedName } from '../../src/detect/dns/label-hash.js';
import { DnsMessage } from '../../src/detect/dns/message.js';
import { NamePatterns, nameHash, normalName, type NameRule } from '../../src/detect/dns/names.js';
import { dnsMessage, encodeName } from '../support/dns.js';

/** Matching a question by its label hashes (names.ts, label-hash.ts) before any string is made. */

const rule = (name: string, protocol = name): NameRule => ({ name, protocol, evidence: 'supporting', learn: [] });

function question(bytes: Uint8Array): DnsMessage {
  const message = new DnsMessage();
  expect(message.read(bytes, 0, bytes.length)).toBe(true);
  return message;
}

/** The question as the wire gives it, read by DnsMessage: what the module matches. */
const wire = (name: string): DnsMessage => question(dnsMessage({ id: 1, name }));

/** The question's hashes, counting how often its name (the string) is asked for. */
function watched(message: DnsMessage): { name: HashedName; asked: () => number } {
  let asked = 0;
  return {
    name: {
      labelHashes: message.labelHashes,
      labelCount: message.labelCount,
      get name() {
        asked++;
        return message.name;
      },
    },
    asked: () => asked,
  };
}

/** What matching did before hashes: one map lookup of the name, then one per parent, longest first. */
function reference(rules: readonly NameRule[], name: string): NameRule | null {
  const exact = new Map<string, NameRule>();
  const below = new Map<string, NameRule>();
  for (const r of rules) {
    const normal = normalName(r.name);
    if (normal.startsWith('*.')) below.set(normal.slice(2), r);
    else exact.set(normal, r);
  }
  const found = exact.get(name);
  if (found !== undefined) return found;
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
    const parent = below.get(name.slice(dot + 1));
    if (parent !== undefined) return parent;
  }
  return null;
}

/** A deterministic generator (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('DNS questions matched by their label hashes', () => {
  const patterns = new NamePatterns([rule('Router.BitTorrent.com', 'exact'), rule('*.Slsk.Example.org.', 'below'), rule('server.slsk.example.org', 'server'), rule('tracker.example.net.', 'dot')]);

  it('is case-insensitive on the wire and in the patterns, and ignores a pattern\'s trailing dot', () => {
    expect(patterns.matchName(wire('ROUTER.bittorrent.COM'))?.protocol).toBe('exact');
    expect(patterns.matchName(wire('router.bittorrent.com'))?.protocol).toBe('exact');
    expect(patterns.matchName(wire('Tracker.Example.Net'))?.protocol).toBe('dot');
    expect(patterns.matchName(wire('PEER.SLSK.EXAMPLE.ORG'))?.protocol).toBe('below');
    // A name's hash is its lower-case text's: the pattern side hashes the normalised name.
    expect(wire('ROUTER.bittorrent.COM').labelHashes.subarray(0, 3)).toEqual(wire('router.bittorrent.com').labelHashes.subarray(0, 3));
  });

  it('matches a wildcard only below its base: not the base, not a name ending like it', () => {
    expect(patterns.matchName(wire('a.slsk.example.org'))?.protocol).toBe('below');
    expect(patterns.matchName(wire('a.b.c.slsk.example.org'))?.protocol).toBe('below');
    // The exact name wins over the wildcard above it.
    expect(patterns.matchName(wire('server.slsk.example.org'))?.protocol).toBe('server');
    expect(patterns.matchName(wire('slsk.example.org'))).toBeNull();
    expect(patterns.matchName(wire('xslsk.example.org'))).toBeNull();
    expect(patterns.matchName(wire('example.org'))).toBeNull();
    expect(patterns.matchName(wire('slsk.example.org.evil.example'))).toBeNull();
    // An exact name matches only itself, not what is below it.
    expect(patterns.matchName(wire('x.router.bittorrent.com'))).toBeNull();
  });

  it('asks for no string when nothing matches, and for the name once a hash matches', () => {
    for (const name of ['www.example123.com', 'bittorrent.com', 'slsk.example.org', 'com', 'a.b.c.d.e.f.g']) {
      const miss = watched(wire(name));
      expect(patterns.matchName(miss.name)).toBeNull();
      expect(miss.asked()).toBe(0);
    }
    const hit = watched(wire('peer.slsk.example.org'));
    expect(patterns.matchName(hit.name)?.protocol).toBe('below');
    expect(hit.asked()).toBe(1);
    // The message makes its name when asked, and the same one each time.
    const message = wire('Peer.Slsk.Example.org');
    expect(message.name).toBe('peer.slsk.example.org');
    expect(message.name).toBe(message.name);
  });

  it('matches names of 1 label and of 127 labels (255 octets, the most a name has)', () => {
    const longest = Array.from({ length: MAX_NAME_LABELS }, (_, i) => String.fromCharCode(0x61 + (i % 26))).join('.');
    expect(longest).toHaveLength(253);
    expect(encodeName(longest)).toHaveLength(255);
    const under = `${Array.from({ length: MAX_NAME_LABELS - 2 }, () => 'x').join('.')}.d.e`;
    expect(encodeName(under)).toHaveLength(255);
    const edges = new NamePatterns([rule('wpad', 'one'), rule(longest, 'longest'), rule('*.d.e', 'deep')]);
    expect(edges.matchName(wire('WPAD'))?.protocol).toBe('one');
    expect(edges.matchName(wire('wpa'))).toBeNull();
    const message = wire(longest);
    expect(message.labelCount).toBe(MAX_NAME_LABELS);
    expect(edges.matchName(message)?.protocol).toBe('longest');
    expect(edges.matchName(wire(`z${longest.slice(1)}`))).toBeNull();
    expect(edges.matchName(wire(under))?.protocol).toBe('deep');
    expect(edges.match(under)?.protocol).toBe('deep');
  });

  it('follows a compressed question name as readName does (a pointer into the header)', () => {
    // Header bytes read as labels: id 0x0162 is "b", flags 0x0163 is "c", then qdcount's 0 ends the name.
    const bytes = Uint8Array.from([0x01, 0x62, 0x01, 0x63, 0, 1, 0, 0, 0, 0, 0, 0, 4, ...Buffer.from('PEER'), 0xc0, 0, 0, 1, 0, 1]);
    const message = question(bytes);
    expect(message.labelCount).toBe(3);
    expect(message.name).toBe('peer.b.c');
    expect(new NamePatterns([rule('*.b.c', 'below')]).matchName(message)?.protocol).toBe('below');
    expect(new NamePatterns([rule('peer.b.c', 'exact')]).matchName(message)?.protocol).toBe('exact');
    expect(new NamePatterns([rule('peer.b', 'other')]).matchName(message)).toBeNull();
  });

  it('never matches another name with the same hash', () => {
    // Two labels FNV-1a hashes alike (found by a search); names that differ only there hash alike.
    const [label, twin] = ['7yzlaa', 'e6apaa'];
    expect(nameHash(`${label}.example.org`)).toBe(nameHash(`${twin}.example.org`));
    expect(nameHash(label)).toBe(nameHash(twin));
    const colliding = new NamePatterns([rule(`${label}.example.org`, 'exact'), rule(`*.${label}.example.net`, 'below')]);
    for (const name of [`${twin}.example.org`, `x.${twin}.example.net`, `a.b.${twin}.example.net`]) {
      const message = watched(wire(name));
      expect(colliding.matchName(message.name)).toBeNull();
      expect(colliding.match(name)).toBeNull();
      // The hash did hit: the string was made, and the map refused it.
      expect(message.asked()).toBe(1);
    }
    expect(colliding.matchName(wire(`${label}.example.org`))?.protocol).toBe('exact');
    expect(colliding.matchName(wire(`x.${label}.example.net`))?.protocol).toBe('below');
    // A false hit on the exact name still lets a wildcard above it match.
    const both = new NamePatterns([rule(`${label}.example.org`, 'exact'), rule('*.example.org', 'below')]);
    expect(both.matchName(wire(`${twin}.example.org`))?.protocol).toBe('below');
  });

  it('matches as the maps alone did, on the wire and as text, for random names and patterns', () => {
    const next = random(0xd15ea5e);
    const labels = ['a', '_srv', 'org', '7yzlaa', 'e6apaa'];
    const pick = () => labels[Math.floor(next() * labels.length)]!;
    const name = (most: number) => Array.from({ length: 1 + Math.floor(next() * most) }, pick).join('.');
    let matched = 0;
    for (let round = 0; round < 200; round++) {
      const rules = Array.from({ length: 1 + Math.floor(next() * 20) }, (_, i) => rule(next() < 0.4 ? `*.${name(3)}` : name(3), `r${i}`)).filter((r) => !/^\*\.[^.]+$/.test(r.name));
      const compiled = new NamePatterns(rules);
      for (let q = 0; q < 50; q++) {
        const asked = name(4);
        const expected = reference(rules, asked);
        expect(compiled.matchName(wire(next() < 0.5 ? asked.toUpperCase() : asked))).toBe(expected);
        expect(compiled.match(asked)).toBe(expected);
        if (expected !== null) matched++;
      }
    }
    // The names were drawn so that matches are common: the comparison covered both outcomes.
    expect(matched).toBeGreaterThan(1000);
    expect(matched).toBeLessThan(9000);
  });

  it('matches text with more labels than a wire name can have, as the maps did', () => {
    const rules = [rule('*.example.org')];
    const patterns = new NamePatterns(rules);
    const name = `${'a.'.repeat(300)}example.org`;
    expect(patterns.match(name)).toBe(reference(rules, name));
    expect(patterns.match(name)).not.toBeNull();
    expect(patterns.match('')).toBeNull();
  });
});

describe('Int32Set', () => {
  it('holds exactly its members, 0 and negative numbers included', () => {
    const set = new Int32Set([0, -1, 5, 5, 0x7fffffff, -0x80000000]);
    expect(set.size).toBe(5);
    for (const member of [0, -1, 5, 0x7fffffff, -0x80000000]) expect(set.has(member)).toBe(true);
    for (const other of [1, -2, 6, 0x7ffffffe, 8, 16]) expect(set.has(other)).toBe(false);
    expect(new Int32Set([]).has(0)).toBe(false);
  });

  it('agrees with a Set on many random members and non-members', () => {
    const next = random(0xbeef);
    const draw = () => (next() * 0x100000000) | 0;
    const members = Array.from({ length: 2000 }, draw);
    const set = new Int32Set(members);
    const truth = new Set(members);
    expect(set.size).toBe(truth.size);
    for (const member of members) expect(set.has(member)).toBe(true);
    let absent = 0;
    for (let i = 0; i < 20_000; i++) {
      const value = draw();
      expect(set.has(value)).toBe(truth.has(value));
      if (!truth.has(value)) absent++;
    }
    expect(absent).toBeGreaterThan(19_000);
  });
});
