/**
 * Readers of what the sinks send, written from the RFCs (not from the formatter's code), so the
 * tests check the format against the standard: RFC 5424 messages, RFC 6587 octet-counted
 * streams, CEF:0 lines.
 */

export interface Rfc5424 {
  pri: number;
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → param → value (unescaped). */
  sd: Record<string, Record<string, string>>;
  msg: string;
  bom: boolean;
}

export function parseRfc5424(text: string): Rfc5424 {
  const head = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  if (!head) throw new Error(`not RFC 5424: ${text.slice(0, 80)}`);
  const pri = Number(head[1]);
  let rest = text.slice(head[0].length);
  const sd: Rfc5424['sd'] = {};
  if (rest.startsWith('-')) rest = rest.slice(1);
  else {
    while (rest.startsWith('[')) {
      const id = /^\[([^ \]="]+)/.exec(rest);
      if (!id) throw new Error('bad SD-ID');
      let i = id[0].length;
      const params: Record<string, string> = {};
      while (rest[i] === ' ') {
        const name = /^ ([^ =\]"]+)="/.exec(rest.slice(i));
        if (!name) throw new Error(`bad SD-PARAM at ${rest.slice(i, i + 20)}`);
        i += name[0].length;
        let value = '';
        while (rest[i] !== '"') {
          if (rest[i] === '\\' && ['"', '\\', ']'].includes(rest[i + 1]!)) i += 1;
          else if (rest[i] === ']' ) throw new Error('unescaped ] in a PARAM-VALUE');
          value += rest[i];
          i += 1;
          if (i >= rest.length) throw new Error('unterminated PARAM-VALUE');
        }
        params[name[1]!] = value;
        i += 1;
      }
      if (rest[i] !== ']') throw new Error('SD-ELEMENT not closed');
      sd[id[1]!] = params;
      rest = rest.slice(i + 1);
    }
  }
  let msg = rest.startsWith(' ') ? rest.slice(1) : rest;
  const bom = msg.startsWith('\ufeff');
  if (bom) msg = msg.slice(1);
  return { pri, facility: Math.floor(pri / 8), severity: pri % 8, version: Number(head[2]), timestamp: head[3]!, hostname: head[4]!, appName: head[5]!, procId: head[6]!, msgId: head[7]!, sd, msg, bom };
}

/** RFC 6587 octet counting: the frames complete in `buffer`, and what is left over. */
export function octetFrames(buffer: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  for (;;) {
    const space = buffer.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(buffer.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) throw new Error(`bad frame length at ${at}`);
    if (buffer.length < space + 1 + length) break;
    frames.push(buffer.subarray(space + 1, space + 1 + length));
    at = space + 1 + length;
  }
  return { frames, rest: buffer.subarray(at) };
}

export interface Cef {
  version: string;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  extensions: Record<string, string>;
}

/** CEF:0 — seven `|`-separated header fields (`\|`, `\\` escaped), then key=value extensions (`\=`, `\\`, `\n` escaped). */
export function parseCef(text: string): Cef {
  if (!text.startsWith('CEF:')) throw new Error('not CEF');
  const fields: string[] = [];
  let current = '';
  let i = 4;
  while (fields.length < 7) {
    const c = text[i];
    if (c === undefined) throw new Error('CEF header too short');
    if (c === '\\' && (text[i + 1] === '|' || text[i + 1] === '\\')) {
      current += text[i + 1];
      i += 2;
    } else if (c === '|') {
      fields.push(current);
      current = '';
      i += 1;
    } else {
      current += c;
      i += 1;
    }
  }
  const ext = text.slice(i);
  const extensions: Record<string, string> = {};
  // a key starts after a space and runs to an unescaped "="; its value runs to the next key
  const keys = [...ext.matchAll(/(?:^| )([A-Za-z0-9_]+)=/g)].filter((m) => m.index === 0 || ext[m.index - 1] !== '\\');
  keys.forEach((m, n) => {
    const start = m.index + m[0].length;
    const end = n + 1 < keys.length ? keys[n + 1]!.index : ext.length;
    extensions[m[1]!] = ext.slice(start, end).replace(/\\(.)/g, (_, e: string) => (e === 'n' ? '\n' : e === 'r' ? '\r' : e));
  });
  return { version: fields[0]!, vendor: fields[1]!, product: fields[2]!, deviceVersion: fields[3]!, signatureId: fields[4]!, name: fields[5]!, severity: fields[6]!, extensions };
}
