/**
 * DNS messages for tests, encoded as RFC 1035 puts them on the wire (names compressed against
 * the question when `compress` is set), so the parser reads what a real server would send.
 */

export interface DnsRecord {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME' | 'TXT';
  /** An address, a target name, or text. */
  value: string;
  class?: number;
  ttl?: number;
}

export interface DnsMessageSpec {
  id: number;
  name: string;
  type?: 'A' | 'AAAA' | 'TXT';
  response?: boolean;
  rcode?: number;
  answers?: readonly DnsRecord[];
  /** Answer owner names equal to the question as a pointer to it (offset 12), as servers do. */
  compress?: boolean;
  /** An EDNS OPT record in the additional section, as glibc and resolvers add. */
  edns?: boolean;
  opcode?: number;
  /** The RD bit (default set, as stub resolvers send it). */
  recursionDesired?: boolean;
}

const TYPES = { A: 1, AAAA: 28, CNAME: 5, TXT: 16 } as const;

export function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter((part) => part.length > 0)) out.push(label.length, ...Buffer.from(label, 'latin1'));
  out.push(0);
  return out;
}

function u16(value: number): number[] {
  return [(value >> 8) & 0xff, value & 0xff];
}

function addressBytes(text: string): number[] {
  if (!text.includes(':')) return text.split('.').map(Number);
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap(u16);
}

export function dnsMessage(spec: DnsMessageSpec): Uint8Array {
  const answers = spec.answers ?? [];
  const flags = (spec.response ? 0x8000 : 0) | ((spec.opcode ?? 0) << 11) | (spec.recursionDesired === false ? 0 : 0x0100) | (spec.response ? 0x0080 : 0) | (spec.rcode ?? 0);
  const bytes: number[] = [...u16(spec.id), ...u16(flags), ...u16(1), ...u16(answers.length), ...u16(0), ...u16(spec.edns ? 1 : 0)];
  bytes.push(...encodeName(spec.name), ...u16(TYPES[spec.type ?? 'A']), ...u16(1));
  for (const record of answers) {
    const owner = spec.compress && record.name === spec.name ? [0xc0, 12] : encodeName(record.name);
    let data: number[];
    if (record.type === 'A' || record.type === 'AAAA') data = addressBytes(record.value);
    else if (record.type === 'CNAME') data = encodeName(record.value);
    else data = [record.value.length, ...Buffer.from(record.value)];
    bytes.push(...owner, ...u16(TYPES[record.type]), ...u16(record.class ?? 1), 0, 0, ...u16(record.ttl ?? 300), ...u16(data.length), ...data);
  }
  if (spec.edns) bytes.push(0, ...u16(41), ...u16(1232), 0, 0, 0, 0, ...u16(0));
  return Uint8Array.from(bytes);
}

/** A DNS message over TCP: its 2-byte length in front. */
export function overTcp(message: Uint8Array): Uint8Array {
  return Uint8Array.from([...u16(message.length), ...message]);
}
