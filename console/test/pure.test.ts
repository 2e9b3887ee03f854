import { describe, expect, it } from 'vitest';
import { decisionPage } from '../src/decision-page.js';
import { ago, hourly } from '../src/format.js';
import { href, parseHash } from '../src/route.js';
import { parseBlocks } from '../src/sse.js';

/** The console's pure parts: routes in the URL fragment, the links of decision ids, SSE parsing, the charts' hourly counts. */

describe('console helpers', () => {
  it('routes: parts decoded, filters in the query; href builds what parseHash reads', () => {
    expect(parseHash('#/incidents/site-a-mx%2F1?host=192.168.1.5')).toMatchObject({ parts: ['incidents', 'site-a-mx/1'] });
    expect(parseHash('#/incidents?host=192.168.1.5').params.get('host')).toBe('192.168.1.5');
    expect(parseHash('').parts).toEqual([]);
    expect(parseHash('#/peers/%E0%A4%A').parts).toEqual(['peers', '%E0%A4%A']); // a bad escape is kept as written
    const link = href(['peers', '[2001:db8::1]:1214'], { site: 'site-a', empty: '' });
    expect(link).toBe('#/peers/%5B2001%3Adb8%3A%3A1%5D%3A1214?site=site-a');
    expect(parseHash(link)).toMatchObject({ parts: ['peers', '[2001:db8::1]:1214'] });
  });

  it('a decision id leads to the page that explains it', () => {
    expect(decisionPage('endpoint:198.51.100.7:1214')).toBe(href(['peers', '198.51.100.7:1214']));
    expect(decisionPage('endpoint:udp:[2001:db8::1]:1214')).toBe(href(['peers', '[2001:db8::1]:1214']));
    expect(decisionPage('ip:tcp:198.51.100.7')).toBe(href(['peers', '198.51.100.7']));
    expect(decisionPage('allow:endpoint:198.51.100.7:1214')).toBe(href(['peers', '198.51.100.7:1214']));
    expect(decisionPage('host:site-a:192.168.1.5')).toBe(href(['hosts', '192.168.1.5'], { site: 'site-a' }));
    expect(decisionPage('host:site-a:2001:db8::5')).toBe(href(['hosts', '2001:db8::5'], { site: 'site-a' }));
    expect(decisionPage('net:198.51.100.0/24')).toBe(href(['decisions'], { scope: 'network' }));
  });

  it('SSE: whole blocks are emitted with their type, a partial block waits for the rest, comments are skipped', () => {
    const seen: [string, string][] = [];
    const emit = (type: string, data: string) => seen.push([type, data]);
    let rest = parseBlocks('retry: 3000\n: connected\n\nevent: incident\ndata: {"ids":["a"]}\n\nevent: decision\nda', emit);
    expect(seen).toEqual([['incident', '{"ids":["a"]}']]);
    rest = parseBlocks(`${rest}ta: {"id":"x"}\n\n: heartbeat\n\n`, emit);
    expect(rest).toBe('');
    expect(seen).toEqual([['incident', '{"ids":["a"]}'], ['decision', '{"id":"x"}']]);
  });

  it('charts count by hour over the last day; times outside it are left out', () => {
    const now = Date.parse('2026-12-07T10:30:00Z');
    const [starts, counts] = hourly(['2026-12-07T10:05:00Z', '2026-12-07T10:59:00Z', '2026-12-07T09:00:00Z', '2026-12-05T10:00:00Z', 'not a time'], 24, now);
    expect(starts).toHaveLength(24);
    expect(new Date(starts[23]! * 1000).toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(counts[23]).toBe(2);
    expect(counts[22]).toBe(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(ago('2026-12-07T10:29:15Z', now)).toBe('45 s ago');
    expect(ago('2026-12-07T10:29:00Z', now)).toBe('1 min ago');
    expect(ago('2026-12-07T12:30:00Z', now)).toBe('in 2 h');
    expect(ago(null, now)).toBe('never');
  });
});
