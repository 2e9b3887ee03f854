import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@p2pwall/common';
import { eveFlowId, type EveEvent } from '@p2pwall/common/eve';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView, Page } from '../../src/api/views.js';
import { incidentUpdates, type IncidentFlow } from '../../src/incidents/evidence.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { startBrainRig, type BrainRig } from '../support.js';

/**
 * The brain's incident export as Suricata EVE JSON (GET /v1/incidents.eve, GET
 * /v1/incidents/:id/eve) from a real brain and Redis: every line an EVE event, the incident's
 * identifying evidence as the alert, its sample flows as flow events linked to it by flow_id.
 */

const READ = 'eve-read-token-00001';
const CLI = fileURLToPath(new URL('../../dist/ctl/main.js', import.meta.url));

/** The built `p2pwall` binary with the read token; nothing of the caller's P2PWALL_ settings. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('P2PWALL_') && key !== 'COLUMNS'));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...env, P2PWALL_URL: rig.base, P2PWALL_TOKEN: READ }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}
let rig: BrainRig;
let store: IncidentStore;

beforeAll(async () => {
  rig = await startBrainRig({ tokens: { read: [READ], admin: ['eve-admin-token-0001'] }, logger: createLogger({ name: 'eve-test', level: 'error' }) });
  store = new IncidentStore(rig.redis, { quietMs: 1800_000, retentionMs: 86_400_000, maxSamples: 5, listItems: 5 });
}, 60_000);

afterAll(async () => {
  await rig?.stop();
});

async function get(path: string, token: string | null = READ): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${rig.base}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** The brain's lines, as the one EVE mapping types them (@p2pwall/common/eve). */
type Eve = EveEvent;

const lines = (text: string): Eve[] => {
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Eve);
};

const flow = (host: string, peer: string, ts: number, proto = 17): IncidentFlow => ({ site: 'eve-a', hostIp: host, insidePort: 3531, endpoint: peer, outsideIp: peer.split(':')[0]!, protocol: proto, app: 'fasttrack', rules: ['fasttrack/udp-ping'], firstSeenMs: ts - 10, lastSeenMs: ts, packetsOut: 1, packetsIn: 0, bytesOut: 40, bytesIn: 0, droppedPackets: 1, dropped: true, ongoing: false });

describe('incidents as Suricata EVE JSON', () => {
  it('one incident: its identification as the alert, its sample flows as flow events with the same flow_id', async () => {
    const t0 = Date.now() - 60_000;
    const host = '10.30.0.1';
    const [id] = await store.record(
      incidentUpdates(
        {
          gateway: 'gw7',
          flows: [flow(host, '203.0.113.9:41477', t0), flow(host, '203.0.113.10:1214', t0 + 500, 6)],
          clients: [{ site: 'eve-a', hostIp: host, protocol: 'fasttrack', rules: ['fasttrack/udp-ping'], tsMs: t0, identifying: { rule: 'fasttrack/udp-ping', detail: 'KaZaA', flow: `udp ${host}:3531 > 203.0.113.9:41477`, packet: 7 } }],
          peers: [],
          decisions: [],
        },
        5,
      ),
    );
    expect((await get(`/v1/incidents/${id}/eve`, null)).status).toBe(401);
    expect((await get('/v1/incidents/eve-a-none-0/eve')).status).toBe(404);
    const answer = await get(`/v1/incidents/${id}/eve`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const events = lines(answer.text);
    const [alert, ...flows] = events;
    for (const e of events) {
      expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$/);
      expect(Number.isSafeInteger(e.flow_id) && e.flow_id > 0 && e.flow_id < 2 ** 51).toBe(true);
      expect(typeof e.src_port === 'number' && typeof e.dest_port === 'number').toBe(true);
    }
    expect(alert).toMatchObject({
      event_type: 'alert',
      src_ip: host,
      src_port: 3531,
      dest_ip: '203.0.113.9',
      dest_port: 41477,
      proto: 'UDP',
      app_proto: 'fasttrack',
      alert: { action: 'allowed', category: 'Potential Corporate Privacy Violation', severity: 2, signature: 'P2PWALL fasttrack/udp-ping fasttrack client identified (KaZaA)' },
      p2pwall: { event: 'incident', incident: id, site: 'eve-a', gateway: 'gw7', host, rule: 'fasttrack/udp-ping', detail: 'KaZaA', packet: 7, state: 'open' },
    });
    expect(Date.parse(alert!.timestamp.replace(/\+0000$/, 'Z'))).toBe(t0);
    expect(alert!.flow_id).toBe(eveFlowId(host, '203.0.113.9', 41477));
    expect(flows.map((f) => [f.event_type, f.dest_ip, f.dest_port, f.proto]).sort()).toEqual([
      ['flow', '203.0.113.10', 1214, 'TCP'],
      ['flow', '203.0.113.9', 41477, 'UDP'],
    ]);
    const same = flows.find((f) => f.dest_ip === '203.0.113.9')!;
    const other = flows.find((f) => f.dest_ip === '203.0.113.10')!;
    expect(same.flow_id).toBe(alert!.flow_id);
    expect(other.flow_id).not.toBe(alert!.flow_id);
    expect(same).toMatchObject({ src_ip: host, app_proto: 'fasttrack', flow: { pkts_toserver: 1, bytes_toserver: 40, alerted: true }, p2pwall: { incident: id, gateway: 'gw7', verdict: 'drop' } });

    // the CLI prints the same lines
    const shown = await cli(['incidents', 'show', id!, '--eve']);
    expect(shown).toMatchObject({ code: 0, stderr: '', stdout: answer.text });
    const listed = await cli(['incidents', 'list', '--site', 'eve-a', '--eve']);
    expect(listed).toMatchObject({ code: 0, stderr: '', stdout: (await get('/v1/incidents.eve?site=eve-a')).text });
    expect(lines(listed.stdout)[0]!.p2pwall['incident']).toBe(id);
    expect((await cli(['incidents', 'list', '--eve', '--csv'])).code).toBe(1);
  });

  it('the listing: an alert per incident, its filters, the next cursor in a header', async () => {
    const t0 = Date.now() - 30_000;
    for (const [k, host] of ['10.30.1.1', '10.30.1.2', '10.30.1.3'].entries()) {
      await store.record(incidentUpdates({ gateway: 'gw1', flows: [{ ...flow(host, `198.51.100.${k + 1}:6346`, t0 + k), site: 'eve-b', app: 'gnutella', rules: ['gnutella/handshake'] }], clients: [], peers: [], decisions: [] }, 5));
    }
    const json = (await (await fetch(`${rig.base}/v1/incidents?site=eve-b`, { headers: { authorization: `Bearer ${READ}` } })).json()) as Page<IncidentView>;
    const all = lines((await get('/v1/incidents.eve?site=eve-b')).text);
    expect(all.map((e) => e.p2pwall['incident'])).toEqual(json.items.map((i) => i.id));
    for (const e of all) {
      expect(e.event_type).toBe('alert');
      // no identifying evidence came with these: the alert names the host and its first peer
      expect(e.src_ip).toBe(e.p2pwall['host']);
      expect(e.dest_ip).toMatch(/^198\.51\.100\.\d$/);
      expect(e.flow_id).toBe(eveFlowId(e.src_ip, e.dest_ip, 6346));
    }
    const first = await get('/v1/incidents.eve?site=eve-b&limit=2');
    expect(lines(first.text)).toHaveLength(2);
    const cursor = first.headers.get('p2pwall-next-cursor')!;
    expect(cursor).toBeTruthy();
    const rest = await get(`/v1/incidents.eve?site=eve-b&limit=2&cursor=${encodeURIComponent(cursor)}`);
    expect(lines(rest.text).map((e) => e.p2pwall['incident'])).toEqual([json.items[2]!.id]);
    expect((await get('/v1/incidents.eve?range=nonsense')).status).toBe(400);
  });
});
