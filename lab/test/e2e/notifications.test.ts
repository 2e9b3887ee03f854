/**
 * Notifications of the lab's Kazaa client, end to end (issue 17 §7): site A's gateway with a live
 * sensor; in the lab's internet namespace nats-server, redis-server, the built `p2pwall-brain
 * serve` with a webhook sink and two syslog sinks (UDP RFC 5424, TCP CEF), and their receivers —
 * a small node:http / node:dgram / node:net program started there, which writes what it gets,
 * with the time, as JSON lines. After the emulated Kazaa client at 192.168.1.5 is identified,
 * every receiver has the new-incident notification within a second of the brain's first decision
 * about it (the brain's own log line; same clock). Needs root; skipped with the reason otherwise;
 * torn down in afterAll, also when a test fails.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SensorProcess, labUnavailableReason, readJsonLines, startLabBrain, startNats, startRedis, tearDownLab, until, type LabBrain, type LabProcess, type NatsServer, type RedisServer } from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason();
const INET_HOST = '198.18.0.254';
const KAZAA_HOST = '192.168.1.5';
const SECRET = 'lab-webhook-secret-0123456789';
const PORTS = { http: 18_081, udp: 15_514, tcp: 16_514 };

/** The receivers: every request or message as one JSON line {via, atMs, headers?, body}. */
const RECEIVERS = `
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { createServer as tcpServer } from 'node:net';
const out = (line) => process.stdout.write(JSON.stringify({ ...line, atMs: Date.now() }) + '\\n');
createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => { res.end('ok'); out({ via: 'http', headers: req.headers, body }); });
}).listen(${PORTS.http}, '${INET_HOST}');
const udp = createSocket('udp4');
udp.on('message', (m) => out({ via: 'udp', body: m.toString('utf8') }));
udp.bind(${PORTS.udp}, '${INET_HOST}');
tcpServer((socket) => {
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const space = buffer.indexOf(32);
      if (space < 0) break;
      const length = Number(buffer.subarray(0, space).toString());
      if (buffer.length < space + 1 + length) break;
      out({ via: 'tcp', body: buffer.subarray(space + 1, space + 1 + length).toString('utf8') });
      buffer = buffer.subarray(space + 1 + length);
    }
  });
}).listen(${PORTS.tcp}, '${INET_HOST}', () => out({ via: 'ready', body: '' }));
`;

const prefix = `pwnt${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let work: string;
let nats: NatsServer;
let redis: RedisServer;
let brain: LabBrain;
let receivers: LabProcess;
let receiverOutput: string;
const processes: LabProcess[] = [];
const servers: { cleanup(): Promise<void> }[] = [];
const sensors: SensorProcess[] = [];

interface Received {
  via: 'http' | 'udp' | 'tcp' | 'ready';
  atMs: number;
  headers?: Record<string, string>;
  body: string;
}

const received = (): Received[] => readJsonLines(receiverOutput) as unknown as Received[];

describe.skipIf(UNAVAILABLE !== '')(`notifications of the lab's Kazaa client${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a'] });
    work = mkdtempSync(join(tmpdir(), 'p2pwall-notify-'));
    nats = await startNats({ namespace: lab.inet, host: INET_HOST });
    servers.push(nats);
    redis = await startRedis({ namespace: lab.inet, host: INET_HOST });
    servers.push(redis);
    receiverOutput = join(work, 'receivers.jsonl');
    receivers = lab.spawn(lab.inet, process.execPath, ['--input-type=module', '-e', RECEIVERS], { detached: true, output: receiverOutput, role: 'receivers' });
    processes.push(receivers);
    await until('receivers listening', 10_000, () => (received().some((r) => r.via === 'ready') ? true : undefined), 50);
    const peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '300']);
    processes.push(peers);
    await peers.ready();
    const sink = { queue: { firstRetrySeconds: 0.2, maxRetrySeconds: 2 } };
    brain = await startLabBrain(lab, lab.inet, {
      natsUrl: nats.url,
      redisUrl: redis.url,
      workDir: work,
      config: {
        log: { level: 'debug' },
        notifications: {
          sinks: [
            { ...sink, name: 'soc', type: 'webhook', url: `http://${INET_HOST}:${PORTS.http}/hook`, secret: SECRET },
            { ...sink, name: 'siem-udp', type: 'syslog', syslog: { host: INET_HOST, port: PORTS.udp } },
            { ...sink, name: 'siem-tcp', type: 'syslog', syslog: { transport: 'tcp', host: INET_HOST, port: PORTS.tcp, format: 'cef' } },
          ],
        },
      },
    });
    processes.push(brain.process);
    const config = { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'cp', level: 'debug' }, uplink: { nats: { servers: [nats.url], heartbeatSeconds: 1 }, redis: { url: redis.url, snapshotFile: join(work, 'a.snapshot') } } };
    sensors.push(await SensorProcess.start({ namespace: lab.site('a').gateway, config }));
  }, 90_000);

  afterAll(() => tearDownLab({ sensors, processes, lab, servers, work }), 90_000);

  it('the webhook and both syslog receivers get the new P2P host within a second of the first decision', async () => {
    await lab.emulate(lab.site('a').clients[0]!.ns, 'kazaa-client', ['--phases', 'udp', '--pong-wait', '300']).wait(60_000);
    const opened = await until('the new-incident notification at every receiver', 15_000, () => {
      const got = received();
      const http = got.find((r) => r.via === 'http' && (JSON.parse(r.body) as { kind: string }).kind === 'incident-opened');
      const udp = got.find((r) => r.via === 'udp' && r.body.includes(' incident-opened '));
      const tcp = got.find((r) => r.via === 'tcp' && r.body.includes('|incident-opened|'));
      return http && udp && tcp ? { http, udp, tcp } : undefined;
    }, 100);
    // the brain's first decision naming the Kazaa host (its own log line: the same clock as the receivers')
    const decisions = brain.lines().filter((line) => line['msg'] === 'decision' && (line['id'] === `host:a:${KAZAA_HOST}` || String(line['id']).startsWith('endpoint:')));
    expect(decisions.length).toBeGreaterThan(0);
    const decidedAt = Math.min(...decisions.map((line) => Number(line['time'])));
    const latency = { webhook: opened.http.atMs - decidedAt, udp: opened.udp.atMs - decidedAt, tcp: opened.tcp.atMs - decidedAt };
    console.log(`lab Kazaa client: new-incident notification after the brain's first decision: webhook ${latency.webhook} ms, syslog/udp ${latency.udp} ms, syslog/tcp (CEF) ${latency.tcp} ms`);
    for (const ms of Object.values(latency)) expect(ms).toBeLessThan(1000);

    const body = JSON.parse(opened.http.body) as { kind: string; incident: { host: string; site: string; protocol: string; rule: string } };
    expect(body.incident).toMatchObject({ host: KAZAA_HOST, site: 'a', protocol: 'fasttrack' });
    expect(body.incident.rule).toMatch(/^fasttrack\//);
    const timestamp = opened.http.headers!['x-p2pwall-timestamp']!;
    expect(opened.http.headers!['x-p2pwall-signature']).toBe(`v1=${createHmac('sha256', SECRET).update(`${timestamp}.${opened.http.body}`).digest('hex')}`);
    expect(opened.udp.body).toMatch(new RegExp(`^<133>1 \\S+ \\S+ p2pwall-brain \\d+ incident-opened \\[p2pwall@32473 [^\\]]*host="${KAZAA_HOST.replace(/\./g, '\\.')}"`));
    expect(opened.tcp.body).toMatch(new RegExp(`CEF:0\\|p2pwall\\|brain\\|[^|]+\\|incident-opened\\|New P2P host\\|7\\|.* src=${KAZAA_HOST.replace(/\./g, '\\.')} `));
    // one new incident, told once, whatever else the client's evidence adds
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(received().filter((r) => r.via === 'http' && (JSON.parse(r.body) as { kind: string }).kind === 'incident-opened')).toHaveLength(1);
  }, 120_000);
});
