import { describe, expect, it } from 'vitest';
import { DecodeStatus, PacketView, decodeIp } from '../../src/decode/packet.js';
import {
  HEADER_BLOCK_CAPACITY,
  HEAD_OVERHEAD_BYTES,
  HEAD_START_CAPACITY,
  HeaderLines,
  StreamHead,
  ascii,
  couldStartWith,
  headerValueStart,
  printable,
  startsWithCaseless,
  walkFirstSegment,
} from '../../src/detect/http-headers.js';
import { ModuleBufferBudget } from '../../src/detect/buffer-budget.js';
import { ACK, PSH, SYN, tcp } from '@p2pwall/lab';

const ENDS = { src: '10.0.0.5', dst: '203.0.113.7', sport: 3456, dport: 80 };

function view(payload: string, seq = 1000, flags = PSH | ACK): PacketView {
  const packet = new PacketView();
  expect(decodeIp(packet, tcp({ ...ENDS, seq, flags, payload }), 0, Number.MAX_SAFE_INTEGER)).toBe(DecodeStatus.ok);
  return packet;
}

/** The text of every line the walker hands out. */
function walk(lines: HeaderLines): string[] {
  const seen: string[] = [];
  while (lines.next()) seen.push(Buffer.from(lines.buf.subarray(lines.lineStart, lines.lineEnd)).toString('latin1'));
  return seen;
}

describe('HeaderLines', () => {
  it('hands out complete lines without their endings and stops at the blank line', () => {
    const lines = new HeaderLines();
    const text = ascii('GET / HTTP/1.1\r\nA: 1\nB: 2\r\n\r\nbody line\r\n');
    lines.reset(text, 0, text.length, 0);
    expect(walk(lines)).toEqual(['GET / HTTP/1.1', 'A: 1', 'B: 2']);
    expect(lines.blockEnded).toBe(true);
    expect(lines.resumeAt).toBe(text.indexOf(ascii('body')[0]!));
    expect(lines.next()).toBe(false);
  });

  it('keeps an incomplete last line for later and says where to resume', () => {
    const lines = new HeaderLines();
    const text = ascii('GET / HTTP/1.1\r\nHost: exa');
    lines.reset(text, 0, text.length, 0);
    expect(walk(lines)).toEqual(['GET / HTTP/1.1']);
    expect(lines.blockEnded).toBe(false);
    expect(lines.resumeAt).toBe(16);
    expect(lines.nextIndex).toBe(1);
  });

  it('reports CR LF versus bare LF, and counts lines from the given index', () => {
    const lines = new HeaderLines();
    const text = ascii('A\r\nB\n');
    lines.reset(text, 0, text.length, 5);
    expect(lines.next()).toBe(true);
    expect([lines.index, lines.crlf]).toEqual([5, true]);
    expect(lines.next()).toBe(true);
    expect([lines.index, lines.crlf]).toEqual([6, false]);
  });

  it('never reads past its limit', () => {
    const lines = new HeaderLines();
    const text = ascii('A: 1\r\nB: 2\r\n');
    lines.reset(text, 0, 8, 1);
    expect(walk(lines)).toEqual(['A: 1']);
  });
});

describe('byte helpers', () => {
  it('matches header names without case and skips blanks before the value', () => {
    const line = ascii('x-KAZAA-ip: \t1.2.3.4:5');
    expect(headerValueStart(line, 0, line.length, ascii('x-kazaa-ip'))).toBe(13);
    expect(headerValueStart(line, 0, line.length, ascii('x-kazaa-i'))).toBe(-1);
    expect(headerValueStart(line, 0, line.length, ascii('x-kazaa-ipx'))).toBe(-1);
  });

  it('does not take CR for a hyphen when ignoring case', () => {
    expect(startsWithCaseless(ascii('a\rb'), 0, 3, ascii('a-b'))).toBe(false);
  });

  it('tells whether a short start can still become a literal', () => {
    expect(couldStartWith(ascii('GE'), 0, 2, ascii('GET '))).toBe(true);
    expect(couldStartWith(ascii('GX'), 0, 2, ascii('GET '))).toBe(false);
    expect(couldStartWith(ascii('GET /x'), 0, 6, ascii('GET '))).toBe(true);
  });

  it('makes printable, bounded details', () => {
    expect(printable(Uint8Array.from([0x41, 0x00, 0x7f, 0x42]), 0, 4)).toBe('A??B');
    expect(printable(ascii('abcdef'), 0, 6, 3)).toBe('abc…');
  });
});

describe('StreamHead', () => {
  function started(first: PacketView, budget = new ModuleBufferBudget(1 << 20, { moduleBuffersRefused: 0 })): { head: StreamHead; lines: HeaderLines } {
    const lines = new HeaderLines();
    walkFirstSegment(lines, first);
    walk(lines);
    const head = StreamHead.start(first, lines, budget);
    if (head === null) throw new Error('budget refused the head');
    return { head, lines };
  }

  it('starts small and doubles as bytes arrive, paying each growth from the budget', () => {
    const counters = { moduleBuffersRefused: 0 };
    const budget = new ModuleBufferBudget(1 << 20, counters);
    const { head, lines } = started(view('G'), budget);
    expect(head.bytes.length).toBe(HEAD_START_CAPACITY);
    expect(budget.held).toBe(HEAD_START_CAPACITY + HEAD_OVERHEAD_BYTES);
    const rest = `ET / HTTP/1.1\r\nX: ${'a'.repeat(200)}`;
    expect(head.append(view(rest, 1001))).toBe(true);
    expect(head.bytes.length).toBe(256);
    expect(budget.held).toBe(256 + HEAD_OVERHEAD_BYTES);
    head.walk(lines);
    expect(walk(lines)).toEqual(['GET / HTTP/1.1']);
    expect(counters.moduleBuffersRefused).toBe(0);
  });

  it('is not kept when the budget cannot pay for it, and is finished when it cannot grow', () => {
    const counters = { moduleBuffersRefused: 0 };
    const lines = new HeaderLines();
    const first = view('G');
    walkFirstSegment(lines, first);
    walk(lines);
    expect(StreamHead.start(first, lines, new ModuleBufferBudget(HEAD_START_CAPACITY + HEAD_OVERHEAD_BYTES - 1, counters))).toBeNull();
    expect(counters.moduleBuffersRefused).toBe(1);
    const budget = new ModuleBufferBudget(HEAD_START_CAPACITY + HEAD_OVERHEAD_BYTES, counters);
    const { head } = started(first, budget);
    expect(head.append(view('ET / HTTP/1.1\r\n', 1001))).toBe(true);
    expect(head.append(view('a'.repeat(100), 1016))).toBe(false);
    expect(head.finished).toBe(true);
    expect(head.length).toBe(16);
    expect(counters.moduleBuffersRefused).toBe(2);
    expect(budget.held).toBe(head.heldBytes);
  });

  it('appends in-order segments and walks only what is new', () => {
    const { head, lines } = started(view('GET / HTTP/1.1\r\nHo'));
    expect(head.pendingLineIndex).toBe(1);
    expect(head.append(view('st: x\r\n', 1018))).toBe(true);
    head.walk(lines);
    expect(walk(lines)).toEqual(['Host: x']);
    head.walked(lines);
    expect(head.finished).toBe(false);
    expect(head.append(view('\r\nbody', 1025))).toBe(true);
    head.walk(lines);
    expect(walk(lines)).toEqual([]);
    head.walked(lines);
    expect(head.finished).toBe(true);
    expect(head.append(view('more', 1031))).toBe(false);
  });

  it('ignores segments that are not the next in sequence', () => {
    const { head } = started(view('GET / HTTP/1.1\r\n'));
    expect(head.append(view('GET / HTTP/1.1\r\n', 1000))).toBe(false);
    expect(head.append(view('later', 1020))).toBe(false);
    expect(head.length).toBe(16);
    expect(head.append(view('Host', 1016))).toBe(true);
  });

  it('counts the SYN flag in the first segment’s sequence number', () => {
    const { head } = started(view('GET / HTTP/1.1\r\n', 999, SYN));
    expect(head.append(view('Host: x\r\n', 1016))).toBe(true);
  });

  it('stops at the capacity', () => {
    const { head, lines } = started(view(`GET / HTTP/1.1\r\nX: ${'a'.repeat(3000)}`));
    expect(head.append(view('b'.repeat(3000), 1000 + 16 + 3 + 3000))).toBe(true);
    expect(head.length).toBe(HEADER_BLOCK_CAPACITY);
    head.walk(lines);
    expect(walk(lines)).toEqual([]);
    head.walked(lines);
    expect(head.finished).toBe(true);
  });
});
