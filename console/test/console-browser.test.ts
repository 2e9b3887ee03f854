import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, SensorProcess, labUnavailableReason, startLabBrain, startNats, startRedis, tearDownLab, until, type LabBrain, type LabProcess, type NatsServer, type RedisServer } from '@p2pwall/lab';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView, PeerView } from '../../services/brain/src/api/views.js';

/**
 * The web console end to end on a live lab (prefix pwcs…): site A's gateway with its sensor
 * (NFQUEUE, ipset), and in the lab's internet namespace nats-server, redis-server, the built
 * `p2pwall-brain serve` with its API and console on 198.18.0.254:8080 and the emulated FastTrack
 * peers. The incident is the one the lab's Kazaa client at 192.168.1.5 makes: identified by its UDP
 * node pings, its cached peers learned and blocked. Debian's headless Chromium, driven by
 * playwright-core over its pipe, runs in that internet namespace too (no lab interface exists in
 * the root namespace), as an operator's browser on the brain's network would. Screenshots of
 * every page at 1280 and 1920 px go to console/test-results/screenshots/ (their paths are
 * printed). Needs root; skipped with the reason otherwise; torn down in afterAll.
 */

const UNAVAILABLE = labUnavailableReason();
const READ = 'console-read-token-0123456789';
const ADMIN = 'console-admin-token-0123456789';
const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../test-results/screenshots');
const CHROMIUM = '/usr/bin/chromium';
const INET_HOST = '198.18.0.254';
const BASE = `http://${INET_HOST}:8080`;
const KAZAA_HOST = '192.168.1.5';
const LATE_HOST = '192.168.1.6';

/** One GET from inside the internet namespace, on a connection of its own: {status, headers, body}. */
const GET = `
const [url, token] = process.argv.slice(1);
const answer = await fetch(url, { headers: token ? { authorization: 'Bearer ' + token } : {} });
process.stdout.write(JSON.stringify({ status: answer.status, headers: Object.fromEntries(answer.headers), body: await answer.text() }));
`;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const prefix = `pwcs${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;

describe.skipIf(UNAVAILABLE !== '')(`web console in Chromium on a live lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  let lab: Lab | undefined;
  let work: string;
  let brain: LabBrain;
  let browser: Browser | undefined;
  const processes: LabProcess[] = [];
  const servers: (NatsServer | RedisServer)[] = [];
  const sensors: SensorProcess[] = [];
  const thirdParty: string[] = [];
  /** What Chromium refused under the Content-Security-Policy (an inline script or style, a foreign source). */
  const refused: string[] = [];
  const shots: string[] = [];
  const tokenInUrl: string[] = [];

  /** The lab's Kazaa client start-up on a client host: UDP node pings to its cached peers, their pongs. */
  const runKazaa = (client: number): Promise<unknown> => lab!.emulate(lab!.site('a').clients[client]!.ns, 'kazaa-client', ['--phases', 'udp', '--pong-wait', '300']).wait(60_000);

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    lab = await Lab.up({ prefix, sites: ['a'] });
    work = mkdtempSync(join(tmpdir(), 'p2pwall-pwcs-'));
    const nats = await startNats({ namespace: lab.inet, host: INET_HOST });
    servers.push(nats);
    const redis = await startRedis({ namespace: lab.inet, host: INET_HOST });
    servers.push(redis);
    const peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '600']);
    processes.push(peers);
    await peers.ready();
    brain = await startLabBrain(lab, lab.inet, {
      natsUrl: nats.url,
      redisUrl: redis.url,
      workDir: work,
      config: { api: { enabled: true, listen: { host: INET_HOST, port: 8080 }, tokens: { read: [READ], admin: [ADMIN] } } },
    });
    processes.push(brain.process);
    const config = { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'c', level: 'info' }, uplink: { nats: { servers: [nats.url], heartbeatSeconds: 1 }, redis: { url: redis.url, snapshotFile: join(work, 'a.snapshot') } } };
    sensors.push(await SensorProcess.start({ namespace: lab.site('a').gateway, config }));
    await runKazaa(0);
    await sensors[0]!.waitFor((line) => line.event === 'client');
    // Chromium in the lab's internet namespace: playwright talks to it over the pipe it inherits
    const inNamespace = join(work, 'chromium-in-inet');
    writeFileSync(inNamespace, `#!/bin/sh\nexec ip netns exec ${lab.inet} ${CHROMIUM} "$@"\n`);
    chmodSync(inNamespace, 0o755);
    browser = await chromium.launch({
      executablePath: inNamespace,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      // a fresh profile: playwright gives every launch a new empty --user-data-dir of its own
    });
  }, 150_000);

  afterAll(async () => {
    const closing = Date.now();
    await browser?.close();
    process.stdout.write(`chromium closed in ${Date.now() - closing} ms\n`);
    await tearDownLab({ sensors, processes, lab, servers, work });
    if (shots.length > 0) process.stdout.write(`console screenshots:\n${shots.map((s) => `  ${s}`).join('\n')}\n`);
  }, 90_000);

  async function httpGet(path: string, token?: string): Promise<Answer> {
    const result = await lab!.exec(lab!.inet, process.execPath, ['--input-type=module', '-e', GET, `${BASE}${path}`, ...(token ? [token] : [])], { timeoutMs: 15_000 });
    return JSON.parse(result.stdout) as Answer;
  }

  async function api<T>(path: string): Promise<T> {
    const answer = await httpGet(path, READ);
    expect(answer.status, path).toBe(200);
    return JSON.parse(answer.body) as T;
  }

  async function openPage(width: number): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width, height: 1000 } });
    page.on('request', (request) => {
      // blob: URLs of the brain's origin are the console's own downloads (the CSV export)
      if (!request.url().startsWith(BASE) && !request.url().startsWith(`blob:${BASE}`) && !request.url().startsWith('data:')) thirdParty.push(request.url());
      // the token travels in the Authorization header only
      if (request.url().includes(READ) || request.url().includes(ADMIN)) tokenInUrl.push(request.url());
    });
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
    });
    return page;
  }

  async function shoot(page: Page, name: string): Promise<void> {
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${BASE}/`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('role').waitFor();
  }

  it('is served by the brain with a strict Content-Security-Policy, hashed assets immutable', async () => {
    const index = await httpGet('/');
    expect(index.status).toBe(200);
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['cache-control']).toBe('no-cache');
    const html = index.body;
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await httpGet(asset!);
    expect(js.headers['cache-control']).toContain('immutable');
    // the live stream needs a token like every /v1 route
    expect((await httpGet('/v1/events/stream')).status).toBe(401);
  });

  it('a read token sees the incident but no admin control; an admin opens the incident, follows it to the peer, allows and deletes; a new incident appears live', async () => {
    const incident = await until('the Kazaa incident', 15_000, async () => {
      const page = await api<{ items: IncidentView[] }>(`/v1/incidents?host=${KAZAA_HOST}`);
      return page.items.find((i) => i.identifiedBy !== null && i.decisionCount > 1);
    }, 100);
    // a peer of the incident that a block covers: the one to follow from the incident's page
    let peer: string | undefined;
    for (const candidate of incident.peers.sample) if (peer === undefined && (await api<PeerView>(`/v1/peers/${encodeURIComponent(candidate)}`)).blocked) peer = candidate;
    expect(peer).toBeDefined();

    const reader = await openPage(1280);
    await reader.goto(`${BASE}/`);
    await reader.getByLabel('Token').fill('not-a-token-of-this-brain');
    await reader.getByRole('button', { name: 'Sign in' }).click();
    await reader.getByRole('alert').filter({ hasText: 'unknown token' }).waitFor();
    await signIn(reader, READ);
    expect(await reader.getByTestId('role').textContent()).toBe('read token');
    await reader.goto(`${BASE}/#/peers/${peer}`);
    await reader.getByTestId('peer-verdict').waitFor();
    expect(await reader.getByTestId('allow-form').count()).toBe(0);
    // the token is in the tab's sessionStorage, never in the URL
    expect(reader.url()).not.toContain(READ);
    await reader.close();

    const page = await openPage(1280);
    await signIn(page, ADMIN);
    expect(await page.getByTestId('role').textContent()).toBe('admin token');
    await page.getByTestId('active-count').waitFor();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await page.getByRole('link', { name: 'Incidents', exact: true }).click();
    const row = page.locator('tr[data-incident]').filter({ hasText: KAZAA_HOST });
    await row.getByRole('link', { name: 'details' }).click();
    await page.getByTestId('identified-by').waitFor();
    const identified = await page.getByTestId('identified-by').textContent();
    expect(identified).toContain(incident.identifiedBy!.rule);
    expect(identified).toContain(incident.identifiedBy!.flow);
    expect(identified).toContain('KaZaA'); // the network name the node pings carry
    expect(await page.getByTestId('timeline').textContent()).toContain('Identified');

    await page.getByTestId('peers').getByRole('link', { name: peer, exact: true }).click();
    await page.getByTestId('peer-verdict').filter({ hasText: 'Blocked by' }).waitFor();
    expect(await page.locator('tr[data-decision]').first().textContent()).toContain('fasttrack');

    // allow the peer: the block is suspended and the page says so
    const form = page.getByTestId('allow-form');
    await form.getByLabel('Reason').fill('console test: a partner endpoint');
    await form.getByRole('button', { name: 'Allow' }).click();
    await form.getByTestId('outcome').filter({ hasText: 'allowed: allow:endpoint:' }).waitFor();
    expect(await form.getByTestId('outcome').textContent()).toMatch(new RegExp(`suspends [^\\n]*endpoint:${peer!.replace(/[.[\\]]/g, '\\$&')}`));
    await page.getByTestId('peer-verdict').filter({ hasText: 'Allowed' }).waitFor();
    const entry = page.locator('tr[data-allow]');
    expect(await entry.count()).toBe(1);

    // a refusal is shown as the brain words it: no network allow entries
    await form.getByLabel('Value').fill('198.51.100.0/24');
    await form.getByRole('button', { name: 'Allow' }).click();
    await form.getByTestId('outcome').filter({ hasText: 'refused' }).waitFor();

    // delete, after the confirmation: the block comes back
    page.once('dialog', (dialog) => void dialog.accept());
    await entry.getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('notice').filter({ hasText: 'removed allow:endpoint:' }).waitFor();
    expect(await page.getByTestId('notice').textContent()).toContain(`restored endpoint:${peer}`);
    await page.getByTestId('peer-verdict').filter({ hasText: 'Blocked by' }).waitFor();
    expect(await page.locator('tr[data-allow]').count()).toBe(0);

    // live: a second Kazaa host appears on the incidents page without reload
    await page.getByRole('link', { name: 'Incidents', exact: true }).click();
    await page.locator('tr[data-incident]').first().waitFor();
    await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'no reload'));
    const startedMs = Date.now();
    // the second lab client's start-up, while the page stays open
    const second = runKazaa(1);
    await page.locator('tr[data-incident]').filter({ hasText: LATE_HOST }).waitFor({ timeout: 30_000 });
    process.stdout.write(`live update shown ${Date.now() - startedMs} ms after the second Kazaa client at ${LATE_HOST} started\n`);
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('no reload');
    await second;
    await page.close();
  }, 120_000);

  it('the incident workflow: an admin acknowledges and closes with notes (a refusal shown as the brain words it), filters the list by state, exports the CSV; a read token sees no workflow control', async () => {
    const incident = (await api<{ items: IncidentView[] }>(`/v1/incidents?host=${KAZAA_HOST}`)).items[0]!;
    expect(incident.state).toBe('open');
    const incidentHash = `#/incidents/${encodeURIComponent(incident.id)}`;
    const ackNote = 'console test: the owner of 192.168.1.5 was told';
    const closeNote = 'console test: Kazaa removed, the lock stays';

    const page = await openPage(1280);
    await signIn(page, ADMIN);
    await page.goto(`${BASE}/${incidentHash}`);
    const form = page.getByTestId('workflow-form');
    await form.waitFor();
    expect(await page.getByTestId('incident-state').textContent()).toBe('open');
    expect(await form.getByRole('button').allTextContents()).toEqual(['Acknowledge', 'Close']);
    expect(await form.getByLabel('Note').getAttribute('maxlength')).toBe('1000');

    // a note of spaces: the brain refuses it (400), and the page says why
    await form.getByLabel('Note').fill('   ');
    await form.getByRole('button', { name: 'Acknowledge' }).click();
    await form.getByTestId('outcome').filter({ hasText: 'refused: ' }).waitFor();
    expect(await page.getByTestId('incident-state').textContent()).toBe('open');

    await form.getByLabel('Note').fill(ackNote);
    await form.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByTestId('incident-state').filter({ hasText: 'acknowledged' }).waitFor();
    const ackStep = page.getByTestId('workflow-steps').locator('tr[data-step="acknowledge"]');
    await ackStep.waitFor();
    expect(await ackStep.textContent()).toContain(ackNote);
    expect(await ackStep.textContent()).toContain('console (admin)');
    expect(await form.getByRole('button').allTextContents()).toEqual(['Close', 'Reopen']);

    // a second tab still shows it acknowledged: its Close, after the first tab's, is the brain's 409
    const stale = await openPage(1280);
    await signIn(stale, ADMIN);
    await stale.goto(`${BASE}/${incidentHash}`);
    await stale.getByTestId('incident-state').filter({ hasText: 'acknowledged' }).waitFor();

    await form.getByLabel('Note').fill(closeNote);
    await form.getByRole('button', { name: 'Close' }).click();
    await page.getByTestId('incident-state').filter({ hasText: 'closed' }).waitFor();
    const closeStep = page.getByTestId('workflow-steps').locator('tr[data-step="close"]');
    await closeStep.waitFor();
    expect(await closeStep.textContent()).toContain(closeNote);
    expect(await page.getByTestId('workflow-steps').locator('tr[data-step]').count()).toBe(2);
    expect(await form.getByRole('button').allTextContents()).toEqual(['Reopen']);

    const staleForm = stale.getByTestId('workflow-form');
    await staleForm.getByLabel('Note').fill('console test: closing it twice');
    await staleForm.getByRole('button', { name: 'Close' }).click();
    await staleForm.getByTestId('outcome').filter({ hasText: 'refused: the incident is closed already' }).waitFor();
    await stale.close();
    const closed = await api<IncidentView>(`/v1/incidents/${encodeURIComponent(incident.id)}`);
    expect(closed.state).toBe('closed');
    expect(closed.workflow.map((s) => s.action)).toEqual(['acknowledge', 'close']);

    // the list: a state column, filtered by state closed (the second host's incident is open)
    await page.getByRole('link', { name: 'Incidents', exact: true }).click();
    await page.locator('tr[data-incident]').filter({ hasText: LATE_HOST }).waitFor();
    await page.getByTestId('filters').getByLabel('State').selectOption('closed');
    await page.getByTestId('filters').getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction("location.hash.includes('state=closed')");
    await page.locator('tr[data-incident]').filter({ hasText: LATE_HOST }).waitFor({ state: 'detached' });
    const rows = page.locator('tr[data-incident]');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-incident')).toBe(incident.id);
    expect(await rows.first().locator('td[data-state]').textContent()).toBe('closed');

    // the CSV of the filtered list: fetched with the bearer header, saved from a blob: URL
    const csvRequests: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/incidents.csv')) csvRequests.push({ url: request.url(), authorization: request.headers()['authorization'] });
    });
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const download = await downloading;
    expect(download.url()).toMatch(/^blob:/);
    expect(download.suggestedFilename()).toMatch(/^incidents-closed-.*\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8');
    const lines = csv.split('\r\n').filter((line) => line !== '');
    expect(lines[0]).toMatch(/^id,site,host,protocol,state,/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(incident.id);
    expect(lines[1]).toContain(',closed,');
    expect(lines[1]).toContain(closeNote);
    expect(csvRequests).toHaveLength(1);
    expect(csvRequests[0]!.url).toContain('state=closed');
    expect(csvRequests[0]!.authorization).toBe(`Bearer ${ADMIN}`);
    await page.getByTestId('export-status').filter({ hasText: 'saved incidents-closed-' }).waitFor();
    await page.close();

    // the closed incident at 1280 and 1920 px
    for (const width of [1280, 1920]) {
      const shot = await openPage(width);
      await signIn(shot, ADMIN);
      await shot.goto(`${BASE}/${incidentHash}`);
      await shot.getByTestId('workflow-steps').locator('tr[data-step="close"]').waitFor();
      expect(await shot.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      await shoot(shot, `incident-closed-${width}`);
      await shot.close();
    }

    // a read token sees the state and the steps, and no workflow control
    const reader = await openPage(1280);
    await signIn(reader, READ);
    await reader.goto(`${BASE}/${incidentHash}`);
    await reader.getByTestId('workflow-steps').locator('tr[data-step="close"]').waitFor();
    expect(await reader.getByTestId('incident-state').textContent()).toBe('closed');
    expect(await reader.getByTestId('workflow-form').count()).toBe(0);
    expect(await reader.getByRole('button', { name: /Acknowledge|Close|Reopen/ }).count()).toBe(0);
    await reader.close();
    expect(tokenInUrl).toEqual([]);
  }, 60_000);

  it('every page at 1280 and 1920 px: screenshots, no third-party request', async () => {
    const incident = (await api<{ items: IncidentView[] }>(`/v1/incidents?host=${KAZAA_HOST}`)).items[0]!;
    const peer = incident.peers.sample[0]!;
    const pages: [string, string, string][] = [
      ['overview', '#/', 'active-count'],
      ['incidents', '#/incidents', 'incident-table'],
      ['incident', `#/incidents/${encodeURIComponent(incident.id)}`, 'identified-by'],
      ['peer', `#/peers/${peer}`, 'peer-verdict'],
      ['host', `#/hosts/${KAZAA_HOST}?site=a`, 'incident-table'],
      ['decisions', '#/decisions', 'decision-table'],
      ['allowlist', '#/allowlist', 'allow-form'],
      ['sensors', '#/sensors', 'sensor-table'],
    ];
    for (const width of [1280, 1920]) {
      const page = await openPage(width);
      await signIn(page, ADMIN);
      for (const [name, hash, ready] of pages) {
        await page.goto(`${BASE}/${hash}`);
        await page.getByTestId(ready).first().waitFor();
        // nothing wider than the screen: tables scroll inside their cards
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
        await shoot(page, `${name}-${width}`);
      }
      await page.close();
    }
    expect(thirdParty).toEqual([]);
    expect(refused).toEqual([]);
  }, 60_000);
});
