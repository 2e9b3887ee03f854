/**
 * The incident workflow, CSV and EVE export on an incident the lab's Kazaa client made, end to
 * end: one site with its live sensor (NFQUEUE, ipset), and in the lab's internet namespace
 * nats-server, redis-server and `p2pwall-brain serve`; the built `p2pwall` CLI runs there as an
 * operator's workstation would. Needs root; skipped with the reason otherwise; torn down in
 * afterAll (lab prefix `pwwf`).
 *
 *   - the client's incident is acknowledged and closed with notes (`incidents ack`, `close`), a
 *     read token is refused, `incidents show` and `list --state closed` show it;
 *   - `incidents list --csv` parses as RFC 4180 with the incident's row;
 *   - `incidents show --eve`: the alert is the client's identifying UDP ping, and the sample
 *     flows of the same conversation carry its flow_id.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SensorProcess, labUnavailableReason, startNats, startRedis, tearDownLab, type LabProcess, type NatsServer, type RedisServer, until } from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason();
const INET_HOST = '198.18.0.254';
const API_URL = `http://${INET_HOST}:8080`;
const ADMIN_TOKEN = 'pwwf-admin-token-0123456789';
const READ_TOKEN = 'pwwf-read-token-0123456789';
const BRAIN_CLI = fileURLToPath(new URL('../../../services/brain/dist/cli.js', import.meta.url));
const CTL = fileURLToPath(new URL('../../../services/brain/dist/ctl/main.js', import.meta.url));
const KAZAA_HOST = '192.168.1.5';

const prefix = `pwwf${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let work: string;
let nats: NatsServer;
let redis: RedisServer;
let brain: LabProcess | undefined;
const servers: { cleanup(): Promise<void> }[] = [];
const sensors: SensorProcess[] = [];

async function p2pwall(args: string[], token = ADMIN_TOKEN): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await lab.exec(lab.inet, 'env', [`P2PWALL_URL=${API_URL}`, `P2PWALL_TOKEN=${token}`, process.execPath, CTL, ...args], { check: false, timeoutMs: 30_000 });
  return { code: result.code ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function p2pwallJson<T>(args: string[], token = ADMIN_TOKEN): Promise<T> {
  const result = await p2pwall([...args, '--json'], token);
  if (result.code !== 0) throw new Error(`p2pwall ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface Incident {
  id: string;
  host: string;
  state: string;
  peers: { count: number };
  identifiedBy: { rule: string; flow: string } | null;
  workflow: { action: string; author: string; note: string }[];
}

/** The header and records of RFC 4180 text (quoted fields with "" inside; no line breaks in fields, as p2pwall writes them). */
function csvRecords(text: string): string[][] {
  expect(text.endsWith('\r\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\r\n')
    .map((line) => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].filter((m, i, all) => i < all.length - 1 || m[0] !== '').map((m) => (m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replaceAll('""', '"') : m[1]!)));
}

describe.skipIf(UNAVAILABLE !== '')(`incident workflow on the lab's Kazaa client${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a'] });
    work = mkdtempSync(join(tmpdir(), 'p2pwall-pwwf-'));
    nats = await startNats({ namespace: lab.inet, host: INET_HOST });
    servers.push(nats);
    redis = await startRedis({ namespace: lab.inet, host: INET_HOST });
    servers.push(redis);
    await lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '300']).ready();
    const yaml = join(work, 'brain.yaml');
    writeFileSync(yaml, [`nats:\n  servers: ["${nats.url}"]`, `redis:\n  url: ${redis.url}`, `api:\n  listen:\n    host: ${INET_HOST}\n    port: 8080\n  tokens:\n    admin: ["${ADMIN_TOKEN}"]\n    read: ["${READ_TOKEN}"]`, ''].join('\n'));
    const output = join(work, 'brain.log');
    brain = lab.spawn(lab.inet, process.execPath, [BRAIN_CLI, 'serve', '--config', yaml], { detached: true, output, role: 'brain' });
    await until('brain API ready', 20_000, async () => ((await p2pwall(['health'])).code === 0 ? true : undefined), 100).catch((error: unknown) => {
      throw new Error(`${String(error)}: ${readFileSync(output, 'utf8').slice(-2000)}`, { cause: error });
    });
    const config = { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'c', level: 'info' }, uplink: { nats: { servers: [nats.url], heartbeatSeconds: 1 }, redis: { url: redis.url, snapshotFile: join(work, 'a.snapshot') } } };
    sensors.push(await SensorProcess.start({ namespace: lab.site('a').gateway, config }));
  }, 90_000);

  afterAll(() => tearDownLab({ sensors, processes: [brain], lab, servers, work }), 90_000);

  it('ack and close with notes, the state filter, CSV and EVE of the Kazaa client’s incident', async () => {
    await lab.emulate(lab.site('a').clients[0]!.ns, 'kazaa-client', ['--phases', 'udp', '--pong-wait', '300']).wait(60_000);
    await sensors[0]!.waitFor((line) => line.event === 'client');
    const incident = await until('incident of the Kazaa client', 15_000, async () => {
      const listed = await p2pwallJson<{ items: Incident[] }>(['incidents', 'list', '--site', 'a', '--since', '10m']);
      return listed.items.find((i) => i.host === KAZAA_HOST && i.peers.count >= 200 && i.identifiedBy !== null);
    }, 250);
    expect(incident.state).toBe('open');
    expect(incident.identifiedBy!.rule).toMatch(/^fasttrack\//);

    const refused = await p2pwall(['incidents', 'ack', incident.id, '--note', 'looking'], READ_TOKEN);
    expect(refused.code).toBe(4);
    const acked = await p2pwallJson<Incident>(['incidents', 'ack', incident.id, '--note', 'owner called', '--author', 'alice']);
    expect(acked).toMatchObject({ state: 'acknowledged', workflow: [{ action: 'acknowledge', author: 'alice', note: 'owner called' }] });
    const closed = await p2pwallJson<Incident>(['incidents', 'close', incident.id, '--note', 'Kazaa removed, ticket 4711', '--author', 'alice']);
    expect(closed.state).toBe('closed');
    const shown = await p2pwall(['incidents', 'show', incident.id], READ_TOKEN);
    expect(shown.stdout).toMatch(/state: +closed by alice, .*: Kazaa removed, ticket 4711/);
    const closedOnly = await p2pwallJson<{ items: Incident[] }>(['incidents', 'list', '--site', 'a', '--state', 'closed'], READ_TOKEN);
    expect(closedOnly.items.map((i) => i.id)).toEqual([incident.id]);
    expect((await p2pwallJson<{ items: Incident[] }>(['incidents', 'list', '--site', 'a', '--state', 'open'], READ_TOKEN)).items.map((i) => i.id)).not.toContain(incident.id);

    const csv = await p2pwall(['incidents', 'list', '--site', 'a', '--csv', '--all'], READ_TOKEN);
    expect(csv).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = csvRecords(csv.stdout);
    const row = rows.find((r) => r[0] === incident.id)!;
    const cell = (name: string) => row[header!.indexOf(name)];
    expect([cell('host'), cell('protocol'), cell('state'), cell('state_by'), cell('state_note')]).toEqual([KAZAA_HOST, 'fasttrack', 'closed', 'alice', 'Kazaa removed, ticket 4711']);
    expect(Number(cell('peers'))).toBeGreaterThanOrEqual(200);

    const eve = await p2pwall(['incidents', 'show', incident.id, '--eve'], READ_TOKEN);
    expect(eve.code).toBe(0);
    const events = eve.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { event_type: string; flow_id: number; src_ip: string; src_port: number; dest_ip: string; dest_port: number; proto: string; alert?: { signature: string; action: string }; p2pwall: Record<string, unknown> });
    const [alert, ...flows] = events;
    // the alert is the identifying packet: the client's UDP ping to a peer
    const [, src, dest] = /^udp (\S+) > (\S+)$/.exec(incident.identifiedBy!.flow)!;
    expect(`${alert!.src_ip}:${alert!.src_port}`).toBe(src);
    expect(`${alert!.dest_ip}:${alert!.dest_port}`).toBe(dest);
    expect(alert).toMatchObject({ event_type: 'alert', proto: 'UDP', alert: { action: 'blocked' }, p2pwall: { incident: incident.id, state: 'closed', site: 'a', gateway: 'gw1' } });
    expect(flows.length).toBeGreaterThan(0);
    for (const flow of flows) {
      expect(flow.event_type).toBe('flow');
      expect(flow.src_ip).toBe(KAZAA_HOST);
      // one conversation, one id; another peer, another id
      if (flow.dest_ip === alert!.dest_ip && flow.dest_port === alert!.dest_port) expect(flow.flow_id).toBe(alert!.flow_id);
      else expect(flow.flow_id).not.toBe(alert!.flow_id);
    }
  }, 150_000);
});
