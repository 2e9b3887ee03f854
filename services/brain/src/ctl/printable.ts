/**
 * What the CLI prints is neutralised (pure): strings from the API come, in the end, from sensors
 * and operators, and a control character (an escape sequence, a carriage return, a bidirectional
 * override) in a terminal can rewrite what an operator sees. Each becomes a visible escape:
 * `\x1b`, `\u202e`.
 */

/** C0 controls, DEL, C1 controls, and the bidirectional overrides and isolates. */
function isUnsafe(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
}

const hex = (code: number, digits: number): string => code.toString(16).padStart(digits, '0');

/** `text` with each unsafe character replaced by `escape(code)`. */
function replaceUnsafe(text: string, escape: (code: number) => string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isUnsafe(code)) continue;
    out += text.slice(start, i) + escape(code);
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/** One value for a table cell or a field: no control character at all (a newline included). */
export function printable(text: string): string {
  return replaceUnsafe(text, (code) => (code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`));
}

/** A whole text output: its own line breaks kept, every other control character escaped. */
export function printableLines(text: string): string {
  return text
    .split('\n')
    .map((line) => printable(line))
    .join('\n');
}

/** JSON text (JSON.stringify escapes C0 controls itself): DEL, C1 and bidi characters become \u escapes, still valid JSON. */
export function printableJson(json: string): string {
  return replaceUnsafe(json, (code) => (code === 0x0a ? '\n' : `\\u${hex(code, 4)}`));
}
