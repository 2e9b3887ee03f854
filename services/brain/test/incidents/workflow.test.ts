import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@p2pwall/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorView, IncidentView, Page } from '../../src/api/views.js';
import { INCIDENT_CSV_HEADER } from '../../src/api/incidents-csv.js';
import { incidentUpdates, type IncidentFlow } from '../../src/incidents/evidence.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { startBrainRig, type BrainRig } from '../support.js';
import { parseCsv } from './csv-parse.js';

/**
 * The incident workflow (acknowledge, close, reopen with a note) and the CSV listing, through a
 * real brain (BrainService, real nats-server and redis-server) over HTTP and through the built
 * `p2pwall` binary: who may take a step, what the state allows, what the views, the state filter
 * and the CSV show, and what new evidence does to a closed incident.
 */

const READ = 'wf-read-token-00001';
const ADMIN = 'wf-admin-token-00001';
const CLI = fileURLToPath(new URL('../../dist/ctl/main.js', import.meta.url));

let rig: BrainRig;
let store: IncidentStore;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  rig = await startBrainRig({
    tokens: { read: [READ], admin: [ADMIN] },
    logger: createLogger({ name: 'workflow-test', level: 'error' }),
    adjust: (c) => (c.api.limits = { ...c.api.limits, perTokenPerSecond: 100_000, perTokenBurst: 100_000 }),
  });
  store = new IncidentStore(rig.redis, { quietMs: 1800_000, retentionMs: 86_400_000, maxSamples: 3, listItems: 5 });
}, 60_000);

afterAll(async () => {
  await rig?.stop();
});

interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${rig.base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as T) : (undefined as T);
  return { status: response.status, body: json, headers: response.headers, text };
}

const flow = (site: string, host: string, peer: string, ts: number): IncidentFlow => ({ site, hostIp: host, insidePort: 40000, endpoint: peer, outsideIp: peer.split(':')[0]!, protocol: 17, app: 'fasttrack', rules: ['fasttrack/udp-ping'], firstSeenMs: ts - 10, lastSeenMs: ts, packetsOut: 1, packetsIn: 0, bytesOut: 40, bytesIn: 0, droppedPackets: 1, dropped: true, ongoing: false });

/** Records evidence of `host` at `site` through the store's own code; returns the incident id. */
async function evidence(site: string, host: string, ts: number, peer = '203.0.113.7:1214'): Promise<string> {
  const [id] = await store.record(incidentUpdates({ gateway: 'gw1', flows: [flow(site, host, peer, ts)], clients: [], peers: [], decisions: [] }, 3));
  expect(id).toMatch(/^[a-z0-9-]+$/);
  return id!;
}

const stepPath = (id: string, action: string) => `/v1/incidents/${encodeURIComponent(id)}/${action}`;

describe('incident workflow through the API', () => {
  it('acknowledges and closes with a note, admin only, shown in the incident and its listing', async () => {
    const t0 = Date.now() - 600_000;
    const id = await evidence('wf-a', '10.20.0.1', t0);
    const fresh = await call<IncidentView>('GET', `/v1/incidents/${id}`, READ);
    expect(fresh.body).toMatchObject({ state: 'open', workflow: [], evidenceSinceClosed: false });

    expect((await call('POST', stepPath(id, 'acknowledge'), null, { note: 'x' })).status).toBe(401);
    const byReader = await call<ErrorView>('POST', stepPath(id, 'acknowledge'), READ, { note: 'looking' });
    expect(byReader.status).toBe(403);
    expect((await call<IncidentView>('GET', `/v1/incidents/${id}`, READ)).body.state).toBe('open');

    const before = Date.now();
    const acked = await call<IncidentView>('POST', stepPath(id, 'acknowledge'), ADMIN, { note: 'calling the owner', author: 'alice' });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ id, state: 'acknowledged', workflow: [{ action: 'acknowledge', role: 'admin', author: 'alice', note: 'calling the owner' }] });
    expect(Date.parse(acked.body.workflow[0]!.at)).toBeGreaterThanOrEqual(before - 1000);

    const again = await call<ErrorView>('POST', stepPath(id, 'acknowledge'), ADMIN, { note: 'twice' });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/acknowledged already/);

    const closed = await call<IncidentView>('POST', stepPath(id, 'close'), ADMIN, { note: 'Kazaa removed from 10.20.0.1' });
    expect(closed.status).toBe(200);
    expect(closed.body.state).toBe('closed');
    expect(closed.body.workflow.map((s) => [s.action, s.author])).toEqual([['acknowledge', 'alice'], ['close', 'admin']]);
    expect((await call<ErrorView>('POST', stepPath(id, 'close'), ADMIN, { note: 'again' })).status).toBe(409);

    // the read token sees it, in the incident and in the listings of its host and site
    const listed = await call<Page<IncidentView>>('GET', '/v1/incidents?site=wf-a', READ);
    expect(listed.body.items.find((i) => i.id === id)).toMatchObject({ state: 'closed', workflow: [{ note: 'calling the owner' }, { note: 'Kazaa removed from 10.20.0.1' }] });
    const host = await call<{ incidents: IncidentView[] }>('GET', '/v1/hosts/10.20.0.1?site=wf-a', READ);
    expect(host.body.incidents.find((i) => i.id === id)?.state).toBe('closed');
  });

  it('refuses bad notes, unknown incidents and ids that name other keys', async () => {
    const id = await evidence('wf-b', '10.20.1.1', Date.now() - 60_000);
    for (const [note, message] of [['', /note/], [' ', /must say something/], ['x'.repeat(1001), /note/], ['two\nlines', /one line/], ['\u001b[31mred', /control/]] as const) {
      const answer = await call<ErrorView>('POST', stepPath(id, 'close'), ADMIN, { note });
      expect(answer.status, JSON.stringify(note)).toBe(400);
      expect(answer.body.message).toMatch(/^body\/note: /);
      expect(answer.body.message).toMatch(message);
    }
    expect((await call<ErrorView>('POST', stepPath(id, 'close'), ADMIN, { note: 'ok', author: 'a\u202eb' })).status).toBe(400);
    expect((await call<ErrorView>('POST', stepPath(id, 'close'), ADMIN, { note: 'ok', extra: 1 })).status).toBe(400);
    expect((await call<ErrorView>('POST', stepPath(id, 'close'), ADMIN, {})).body.message).toBe('body/note: is required');
    expect((await call<ErrorView>('POST', stepPath('wf-b-nothing-here', 'close'), ADMIN, { note: 'n' })).status).toBe(404);
    // `<id>:peers` is the incident's peer set, not an incident: no step may write into it
    expect((await call<ErrorView>('POST', stepPath(`${id}:peers`, 'close'), ADMIN, { note: 'n' })).status).toBe(404);
    expect(await rig.redis.type(`p2pwall:v1:incident:${id}:peers`)).not.toBe('hash');
    // nothing above changed the incident
    expect((await call<IncidentView>('GET', `/v1/incidents/${id}`, READ)).body).toMatchObject({ state: 'open', workflow: [] });
  });

  it('loses no step when two operators act at once: one close wins, the other is told', async () => {
    const id = await evidence('wf-c', '10.20.2.1', Date.now() - 60_000);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call<IncidentView | ErrorView>('POST', stepPath(id, 'close'), ADMIN, { note: `close ${i}` })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const now = (await call<IncidentView>('GET', `/v1/incidents/${id}`, READ)).body;
    expect(now.workflow).toHaveLength(1);
    expect(now.state).toBe('closed');
  });

  it('a closed incident stays closed when its episode goes on, and says so; a later episode opens a new incident', async () => {
    const t0 = Date.now() - 7_200_000;
    const id = await evidence('wf-d', '10.20.3.1', t0);
    expect((await call('POST', stepPath(id, 'close'), ADMIN, { note: 'done' })).status).toBe(200);
    const quiet = await call<IncidentView>('GET', `/v1/incidents/${id}`, READ);
    expect(quiet.body).toMatchObject({ state: 'closed', evidenceSinceClosed: false });

    // the same episode (within the quiet time of 30 min after its last evidence)... but timestamped after the close
    const later = Date.now() + 5_000;
    const episodeStore = new IncidentStore(rig.redis, { quietMs: 3 * 3_600_000, retentionMs: 86_400_000, maxSamples: 3, listItems: 5 });
    const [same] = await episodeStore.record(incidentUpdates({ gateway: 'gw1', flows: [flow('wf-d', '10.20.3.1', '203.0.113.8:1214', later)], clients: [], peers: [], decisions: [] }, 3));
    expect(same).toBe(id);
    const after = (await call<IncidentView>('GET', `/v1/incidents/${id}`, READ)).body;
    expect(after).toMatchObject({ state: 'closed', evidenceSinceClosed: true, peers: { count: 2 } });
    expect(Date.parse(after.lastSeen)).toBe(later);

    // a new episode, after the quiet time: a new incident, open
    const next = await evidence('wf-d', '10.20.3.1', later + 1800_000 + 60_000);
    expect(next).not.toBe(id);
    expect((await call<IncidentView>('GET', `/v1/incidents/${next}`, READ)).body.state).toBe('open');

    const reopened = await call<IncidentView>('POST', stepPath(id, 'reopen'), ADMIN, { note: 'it is back' });
    expect(reopened.body).toMatchObject({ state: 'open', evidenceSinceClosed: false });
  });

  it('filters the listing by state', async () => {
    const t0 = Date.now() - 60_000;
    const [open, acked, closed] = await Promise.all([evidence('wf-e', '10.20.4.1', t0), evidence('wf-e', '10.20.4.2', t0 + 1), evidence('wf-e', '10.20.4.3', t0 + 2)]);
    await call('POST', stepPath(acked, 'acknowledge'), ADMIN, { note: 'seen' });
    await call('POST', stepPath(closed, 'close'), ADMIN, { note: 'gone' });
    const ids = async (state: string) => (await call<Page<IncidentView>>('GET', `/v1/incidents?site=wf-e&state=${state}`, READ)).body.items.map((i) => i.id);
    expect(await ids('open')).toEqual([open]);
    expect(await ids('acknowledged')).toEqual([acked]);
    expect(await ids('closed')).toEqual([closed]);
    // pages of one state: the cursor goes on within the filter
    const page1 = await call<Page<IncidentView>>('GET', '/v1/incidents?site=wf-e&state=open&limit=1', READ);
    expect(page1.body.items.map((i) => i.id)).toEqual([open]);
    expect((await call<ErrorView>('GET', '/v1/incidents?state=done', READ)).status).toBe(400);
  });
});

describe('incidents as CSV', () => {
  it('GET /v1/incidents.csv: the same filters as the JSON listing, a header row, RFC 4180, formulas defused', async () => {
    const t0 = Date.now() - 120_000;
    const ids = [await evidence('wf-csv', '10.20.5.1', t0), await evidence('wf-csv', '10.20.5.2', t0 + 1000), await evidence('wf-csv', '10.20.5.3', t0 + 2000)];
    await call('POST', stepPath(ids[1]!, 'close'), ADMIN, { note: '=HYPERLINK("http://evil.example","click"), said "bob"', author: '@ops' });

    expect((await call('GET', '/v1/incidents.csv?site=wf-csv', null)).status).toBe(401);
    const answer = await call<unknown>('GET', '/v1/incidents.csv?site=wf-csv', READ);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    const [header, ...rows] = parseCsv(answer.text);
    expect(header).toEqual([...INCIDENT_CSV_HEADER]);
    const json = (await call<Page<IncidentView>>('GET', '/v1/incidents?site=wf-csv', READ)).body.items;
    expect(rows.map((r) => r[0])).toEqual(json.map((i) => i.id));
    expect(rows.map((r) => r[0]).sort()).toEqual([...ids].sort());
    const col = (name: (typeof INCIDENT_CSV_HEADER)[number]) => INCIDENT_CSV_HEADER.indexOf(name);
    for (const [k, row] of rows.entries()) {
      const i = json[k]!;
      expect(row).toHaveLength(INCIDENT_CSV_HEADER.length);
      expect([row[col('site')], row[col('host')], row[col('protocol')], row[col('state')], row[col('first_seen')], row[col('last_seen')]]).toEqual([i.site, i.host, i.protocol, i.state, i.firstSeen, i.lastSeen]);
      expect(Number(row[col('attempts_blocked')])).toBe(i.attemptsBlocked);
      expect(row[col('rules')]).toBe('fasttrack/udp-ping=1');
    }
    const closedRow = rows.find((r) => r[0] === ids[1])!;
    expect(closedRow[col('state')]).toBe('closed');
    expect(closedRow[col('state_note')]).toBe(`'=HYPERLINK("http://evil.example","click"), said "bob"`);
    expect(closedRow[col('state_by')]).toBe("'@ops");

    // same filters: state and paging, the next cursor in a header
    const closedOnly = parseCsv((await call('GET', '/v1/incidents.csv?site=wf-csv&state=closed', READ)).text);
    expect(closedOnly.slice(1).map((r) => r[0])).toEqual([ids[1]]);
    const page = await call('GET', '/v1/incidents.csv?site=wf-csv&limit=2', READ);
    expect(parseCsv(page.text)).toHaveLength(3);
    const cursor = page.headers.get('p2pwall-next-cursor');
    expect(cursor).toBeTruthy();
    const rest = await call('GET', `/v1/incidents.csv?site=wf-csv&limit=2&cursor=${encodeURIComponent(cursor!)}`, READ);
    expect(parseCsv(rest.text).slice(1).map((r) => r[0])).toEqual([json[2]!.id]);
    expect(rest.headers.get('p2pwall-next-cursor')).toBeNull();
    expect((await call<ErrorView>('GET', '/v1/incidents.csv?host=not-an-ip', READ)).status).toBe(400);
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], token = ADMIN): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('P2PWALL_') && key !== 'COLUMNS'));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, P2PWALL_URL: rig.base, P2PWALL_TOKEN: token }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

describe('incident workflow and CSV through the p2pwall CLI', () => {
  it('ack, close, show, list --state and --csv', async () => {
    const t0 = Date.now() - 60_000;
    const id = await evidence('wf-cli', '10.20.6.1', t0);
    const other = await evidence('wf-cli', '10.20.6.2', t0 + 1);

    const byReader = await cli(['incidents', 'ack', id, '--note', 'looking'], READ);
    expect(byReader).toMatchObject({ code: 4, stdout: '' });
    expect(byReader.stderr).toMatch(/may only read/);
    expect((await cli(['incidents', 'close', id])).code).toBe(1);
    expect((await cli(['incidents', 'close', id, '--note', '  '])).stderr).toMatch(/--note is required/);

    const acked = await cli(['incidents', 'ack', id, '--note', 'calling the owner', '--author', 'alice']);
    expect(acked).toMatchObject({ code: 0, stderr: '' });
    expect(acked.stdout).toMatch(/^ {2}state: +acknowledged by alice, .*: calling the owner$/m);
    const closed = await cli(['incidents', 'close', id, '--note', 'Kazaa removed', '--json']);
    expect(closed.code).toBe(0);
    expect(JSON.parse(closed.stdout)).toMatchObject({ id, state: 'closed', workflow: [{ action: 'acknowledge', author: 'alice' }, { action: 'close', note: 'Kazaa removed' }] });
    const twice = await cli(['incidents', 'close', id, '--note', 'again']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/\(409\): the incident is closed already/);

    const shown = await cli(['incidents', 'show', id], READ);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/state: +closed by \S+, .*: Kazaa removed/);
    expect(shown.stdout).toMatch(/Workflow: 2 steps\n +WHEN +ACTION +BY +NOTE\n.*acknowledge +alice \(admin\) +calling the owner\n.*close +\S+ \(admin\) +Kazaa removed\n/);

    const listed = await cli(['incidents', 'list', '--site', 'wf-cli', '--state', 'closed'], READ);
    expect(listed.stdout.split('\n')[0]).toMatch(/ STATE /);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(other);
    expect((await cli(['incidents', 'list', '--state', 'done'], READ)).code).toBe(1);

    const csv = await cli(['incidents', 'list', '--site', 'wf-cli', '--csv', '--all', '--limit', '1'], READ);
    expect(csv).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = parseCsv(csv.stdout);
    expect(header).toEqual([...INCIDENT_CSV_HEADER]);
    expect(rows.map((r) => r[0])).toEqual([other, id]);
    expect(rows[1]![INCIDENT_CSV_HEADER.indexOf('state_note')]).toBe('Kazaa removed');
    // the same bytes as the API's CSV of the same listing
    expect(csv.stdout).toBe((await call('GET', '/v1/incidents.csv?site=wf-cli', READ)).text);
    const paged = await cli(['incidents', 'list', '--site', 'wf-cli', '--csv', '--limit', '1'], READ);
    expect(parseCsv(paged.stdout)).toHaveLength(2);
    expect(paged.stderr).toMatch(/warning: more incidents: add --cursor \S+, or --all/);
    expect((await cli(['incidents', 'list', '--csv', '--json'], READ)).code).toBe(1);
  });
});
