import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { SUBJECTS } from '@p2pwall/common';
import { until } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, flow, startBrainRig, type BrainRig } from '../../services/brain/test/support.js';

/**
 * The web console end to end: a real brain (its own nats-server and redis-server) serving the
 * built console, driven in Debian's headless Chromium by playwright-core. The incident is the one
 * the lab's Kazaa client makes: a FastTrack client identified by its UDP ping, its supernode
 * peers on 1214 learned and blocked. Screenshots of every page at 1280 and 1920 px go to
 * console/test-results/screenshots/ (their paths are printed).
 */

const READ = 'console-read-token-0123456789';
const ADMIN = 'console-admin-token-0123456789';
const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../test-results/screenshots');
const CHROMIUM = '/usr/bin/chromium';
const KAZAA_HOST = '192.168.1.5';
const SUPERNODE = '198.51.100.7';
const LATE_HOST = '192.168.1.6';

/** One summary batch of a Kazaa client as the sensor publishes it: the identifying ping, the peers it learned, the flows. */
function kazaaBatch(host: string, supernode: string, sequence: number): Uint8Array {
  const now = Date.now();
  const spec = batch({ instance: 'console-test', sequence, created: now, flows: [flow({ host, to: supernode, port: 1214, proto: 'udp', app: 'fasttrack', rules: ['fasttrack/udp-ping'], ts: now - 200 }), flow({ host, to: supernode, port: 1214, app: 'fasttrack', rules: ['fasttrack/x-kazaa-header'], ts: now - 100 })], clients: [{ host, ts: now - 300 }], peers: [{ ip: supernode, port: 1214, from: host, ts: now - 250 }] });
  spec.events![0]!.client!.evidence = [{ protocol: 'fasttrack', rule: 'fasttrack/udp-ping', supporting: true, detail: 'network KaZaA', flow: `udp ${host}:3531 > ${supernode}:1214`, packet: 7 }];
  return p2pwall.v1.SummaryBatch.encode(spec).finish();
}

const heartbeat = (): Uint8Array => p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'console-test' }, version: '0.1.0', mode: p2pwall.v1.Mode.MODE_ENFORCE, sentMs: Date.now(), startedMs: Date.now() - 60_000, packets: 5120, flows: 12, clients: 1, queues: [{ queue: 0, queueTotal: 5120, queueDropped: 0, userDropped: 0 }] }).finish();

describe('web console in Chromium', () => {
  let rig: BrainRig | undefined;
  let browser: Browser | undefined;
  const thirdParty: string[] = [];
  /** What Chromium refused under the Content-Security-Policy (an inline script or style, a foreign source). */
  const refused: string[] = [];
  const shots: string[] = [];

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    rig = await startBrainRig({ tokens: { read: [READ], admin: [ADMIN] } });
    const js = jetstream(rig.nc);
    await js.publish(SUBJECTS.heartbeats('site-a', 'gw1'), heartbeat());
    await js.publish(SUBJECTS.summaries('site-a', 'gw1'), kazaaBatch(KAZAA_HOST, SUPERNODE, 1), { msgID: 'console-test:1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      // a fresh profile: playwright gives every launch a new empty --user-data-dir of its own
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.stop();
    if (shots.length > 0) process.stdout.write(`console screenshots:\n${shots.map((s) => `  ${s}`).join('\n')}\n`);
  });

  async function openPage(width: number): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width, height: 1000 } });
    page.on('request', (request) => {
      if (!request.url().startsWith(rig!.base) && !request.url().startsWith('data:')) thirdParty.push(request.url());
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
    await page.goto(`${rig!.base}/`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('role').waitFor();
  }

  it('is served by the brain with a strict Content-Security-Policy, hashed assets immutable', async () => {
    const index = await fetch(`${rig!.base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${rig!.base}${asset}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    // the live stream needs a token like every /v1 route
    expect((await fetch(`${rig!.base}/v1/events/stream`)).status).toBe(401);
  });

  it('a read token sees the incident but no admin control; an admin opens the incident, follows it to the peer, allows and deletes; a new incident appears live', async () => {
    await until('the Kazaa incident', 15_000, async () => {
      const answer = await fetch(`${rig!.base}/v1/incidents?host=${KAZAA_HOST}`, { headers: { authorization: `Bearer ${READ}` } });
      const page = (await answer.json()) as { items: unknown[] };
      return page.items.length > 0 ? page : undefined;
    }, 100);

    const reader = await openPage(1280);
    await signIn(reader, READ);
    expect(await reader.getByTestId('role').textContent()).toBe('read token');
    await reader.goto(`${rig!.base}/#/peers/${SUPERNODE}:1214`);
    await reader.getByTestId('peer-verdict').waitFor();
    expect(await reader.getByTestId('allow-form').count()).toBe(0);
    // the token is in the tab's sessionStorage, never in the URL
    expect(reader.url()).not.toContain(READ);
    await reader.close();

    const page = await openPage(1280);
    await signIn(page, ADMIN);
    expect(await page.getByTestId('role').textContent()).toBe('admin token');
    await page.getByTestId('open-count').waitFor();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await page.getByRole('link', { name: 'Incidents', exact: true }).click();
    const row = page.locator('tr[data-incident]').filter({ hasText: KAZAA_HOST });
    await row.getByRole('link', { name: 'details' }).click();
    await page.getByTestId('identified-by').waitFor();
    expect(await page.getByTestId('identified-by').textContent()).toContain('fasttrack/udp-ping');
    expect(await page.getByTestId('identified-by').textContent()).toContain('network KaZaA');
    expect(await page.getByTestId('timeline').textContent()).toContain('Identified');

    await page.getByTestId('peers').getByRole('link', { name: `${SUPERNODE}:1214` }).click();
    await page.getByTestId('peer-verdict').filter({ hasText: 'Blocked by' }).waitFor();
    expect(await page.locator('tr[data-decision]').first().textContent()).toContain('fasttrack');

    // allow the peer: the block is suspended and the page says so
    const form = page.getByTestId('allow-form');
    await form.getByLabel('Reason').fill('console test: a partner endpoint');
    await form.getByRole('button', { name: 'Allow' }).click();
    await form.getByTestId('outcome').filter({ hasText: 'allowed: allow:endpoint:' }).waitFor();
    expect(await form.getByTestId('outcome').textContent()).toContain(`suspends endpoint:${SUPERNODE}:1214`);
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
    await page.getByTestId('peer-verdict').filter({ hasText: 'Blocked by' }).waitFor();
    expect(await page.locator('tr[data-allow]').count()).toBe(0);

    // live: a second Kazaa host appears on the open incidents page without reload
    await page.getByRole('link', { name: 'Incidents', exact: true }).click();
    await page.locator('tr[data-incident]').first().waitFor();
    await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'no reload'));
    const published = Date.now();
    await jetstream(rig!.nc).publish(SUBJECTS.summaries('site-a', 'gw1'), kazaaBatch(LATE_HOST, '198.51.100.8', 2), { msgID: 'console-test:2' });
    await page.locator('tr[data-incident]').filter({ hasText: LATE_HOST }).waitFor({ timeout: 10_000 });
    process.stdout.write(`live update shown ${Date.now() - published} ms after publishing\n`);
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('no reload');
    await page.close();
  });

  it('every page at 1280 and 1920 px: screenshots, no third-party request', async () => {
    const incidents = (await (await fetch(`${rig!.base}/v1/incidents?host=${KAZAA_HOST}`, { headers: { authorization: `Bearer ${READ}` } })).json()) as { items: { id: string }[] };
    const id = incidents.items[0]!.id;
    const pages: [string, string, string][] = [
      ['overview', '#/', 'open-count'],
      ['incidents', '#/incidents', 'incident-table'],
      ['incident', `#/incidents/${encodeURIComponent(id)}`, 'identified-by'],
      ['peer', `#/peers/${SUPERNODE}:1214`, 'peer-verdict'],
      ['host', `#/hosts/${KAZAA_HOST}?site=site-a`, 'incident-table'],
      ['decisions', '#/decisions', 'decision-table'],
      ['allowlist', '#/allowlist', 'allow-form'],
      ['sensors', '#/sensors', 'sensor-table'],
    ];
    for (const width of [1280, 1920]) {
      const page = await openPage(width);
      await signIn(page, ADMIN);
      for (const [name, hash, ready] of pages) {
        await page.goto(`${rig!.base}/${hash}`);
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
