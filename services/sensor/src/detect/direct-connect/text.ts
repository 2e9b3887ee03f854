/** Byte tests shared by the NMDC and ADC readers. */
import { isDigit } from '../http-headers.js';

/** Printable ASCII or any byte of UTF-8 above it: what a command's text may hold. */
export function isText(byte: number): boolean {
  return (byte >= 0x20 && byte !== 0x7f) || byte === 0x09;
}

/** Whether buf[start, end) is all text (no control bytes). */
export function allText(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isText(buf[i]!)) return false;
  return true;
}

/** The end of the word starting at `start` (the next space or `end`). */
export function wordEnd(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] !== 0x20) i++;
  return i;
}

/** A nick: 1–64 text bytes, no space (NMDC forbids `$`, `|` and spaces in nicks). */
export function isNick(buf: Uint8Array, start: number, end: number): boolean {
  if (end <= start || end - start > 64) return false;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if (!isText(byte) || byte === 0x20 || byte === 0x24) return false;
  }
  return true;
}

/** Decimal 1–65535 in buf[start, end), or -1. */
export function parsePort(buf: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 5) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    if (!isDigit(buf[i])) return -1;
    value = value * 10 + buf[i]! - 0x30;
  }
  return value >= 1 && value <= 65535 ? value : -1;
}

/** Dotted IPv4 in buf[start, end) as text, or null. */
export function parseIpv4(buf: Uint8Array, start: number, end: number): string | null {
  let octets = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    if (i === end || buf[i] === 0x2e) {
      if (digits === 0 || value > 255) return null;
      octets++;
      value = 0;
      digits = 0;
      if (i < end && octets === 4) return null;
      continue;
    }
    if (!isDigit(buf[i]) || ++digits > 3) return null;
    value = value * 10 + buf[i]! - 0x30;
  }
  if (octets !== 4) return null;
  return String.fromCharCode(...buf.subarray(start, end));
}
