/** Server-sent events as text: blocks end with a blank line; `event:` names the type, `data:` lines hold the data. */

/** Parses SSE text blocks; returns what is left after the last complete block. */
export function parseBlocks(buffer: string, emit: (type: string, data: string) => void): string {
  let rest = buffer;
  for (let end = rest.indexOf('\n\n'); end >= 0; end = rest.indexOf('\n\n')) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length > 0) emit(type, data.join('\n'));
  }
  return rest;
}
