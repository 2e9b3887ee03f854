/**
 * A real Direct Connect network in the lab (issue 16, items 4 and 6): uhub (ADC, and a TLS-only
 * twin) and an ncdc client sharing a 4 MiB file in the internet, an ncdc client inside a site,
 * nothing emulated. Without the sensor the inside client logs in and downloads the whole file
 * from the outside client; with the sensor in the gateway it is identified by its hub login and
 * reaches no outside peer, while benign traffic passes. Over the TLS hub the sensor sees no
 * login: what it achieves there is measured and printed. Needs root, uhub and ncdc
 * (scripts/setup); skipped with the reason otherwise. The lab, the hubs, the clients and every
 * sensor are torn down also when a test fails.
 */
import { protocolModules } from '@p2pwall/sensor';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAB_HOSTS, Lab, SensorProcess, formatEndpoint, ipsetMembers, labUnavailableReason, makeTestCertificates, type LabProcess, type TestCertificates } from '../../src/index.js';
import { runDcClient, type DcDownload } from '../../src/directconnect/client.js';
import { DirectConnectNetwork, DC_PYTHON, directConnectUnavailableReason } from '../../src/directconnect/network.js';
import { DC_CONTENT, DC_HUB, DC_SHARER, DC_TLS_HUB } from '../../src/directconnect/plan.js';

const UNAVAILABLE = labUnavailableReason() || directConnectUnavailableReason();
const NO_MODULE = protocolModules.some((module) => module.name === 'direct-connect') ? '' : 'the sensor has no direct-connect module';

/** Without the sensor the download takes a few seconds in the lab (ncdc's start, login, list, file). */
const UNBLOCKED_TIMEOUT_MS = 40_000;
/** With the sensor the client gets this long: several times what a whole download takes without it. */
const BLOCKED_TIMEOUT_MS = 12_000;

const prefix = `pwdc${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let network: DirectConnectNetwork | undefined;
let certificates: TestCertificates | undefined;
let benignServers: LabProcess | undefined;
const sensors: SensorProcess[] = [];

type Measured = Pick<DcDownload, 'complete' | 'seconds' | 'fileListBytes' | 'downloadedBytes' | 'incompleteBytes'> & { identifiedBy?: string };
const measured: Record<string, Measured> = {};

function record(label: string, download: DcDownload, identifiedBy?: string): void {
  const { complete, seconds, fileListBytes, downloadedBytes, incompleteBytes } = download;
  measured[label] = { complete, seconds, fileListBytes, downloadedBytes, incompleteBytes, ...(identifiedBy ? { identifiedBy } : {}) };
}

const client = () => lab.site('a').clients[0]!;

/**
 * The real sensor in site a's gateway with the Direct Connect module. The gateway's conntrack
 * table is emptied first, so that no flow left over from an earlier run passes the sensor by.
 */
async function startSensor(): Promise<SensorProcess> {
  const gateway = lab.site('a').gateway;
  await lab.exec(gateway, 'conntrack', ['-F'], { check: false });
  const config = { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'cp' }, detectors: { 'direct-connect': { enabled: true } } };
  const sensor = await SensorProcess.start({ namespace: gateway, config });
  sensors.push(sensor);
  return sensor;
}

/** The rule that identified an inside host, if the sensor identified it. */
function identification(sensor: SensorProcess, host: string): string | undefined {
  const line = sensor.events('client').find((event) => event['host'] === host);
  return line ? (line['evidence'] as { rule: string }[])[0]?.rule : undefined;
}

/** Whether a plain TCP connection from `ns` to `ip:port` is accepted within `seconds`. */
async function tcpConnects(ns: string, ip: string, port: number, seconds = 3): Promise<boolean> {
  const script = 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3])).close()';
  const result = await lab.exec(ns, DC_PYTHON, ['-c', script, ip, String(port), String(seconds)], { check: false, timeoutMs: seconds * 1000 + 5000 });
  return result.code === 0;
}

describe.skipIf(UNAVAILABLE !== '')(`a real Direct Connect hub and clients in the lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a'] });
    certificates = await makeTestCertificates({ ips: [LAB_HOSTS.web, DC_TLS_HUB.ip] });
    benignServers = lab.emulate(lab.inet, 'benign-servers', ['--duration', '600', '--tls-cert', certificates.serverCert, '--tls-key', certificates.serverKey]);
    [network] = await Promise.all([DirectConnectNetwork.start(lab, { tls: { cert: certificates.serverCert, key: certificates.serverKey } }), benignServers.ready()]);
  }, 90_000);

  afterEach(async () => {
    for (const sensor of sensors.splice(0)) {
      await sensor.stop();
      sensor.cleanup();
    }
  });

  afterAll(async () => {
    console.log('real Direct Connect client, per run', JSON.stringify(measured, null, 1));
    await network?.stop().catch(() => undefined);
    await benignServers?.stop().catch(() => undefined);
    await lab?.down();
    certificates?.cleanup();
  }, 60_000);

  it('(i) without the sensor, the inside client logs in (ADC), gets the file list and downloads all 4 MiB from the outside client', async () => {
    const result = await runDcClient(lab, client().ns, 'adc', { timeoutMs: UNBLOCKED_TIMEOUT_MS });
    record('adc without sensor', result);
    expect(result, JSON.stringify(result)).toMatchObject({ complete: true, downloadedBytes: DC_CONTENT.size });
    expect(result.fileListBytes).toBeGreaterThan(0);
    // The outside client's port answers a plain connection from inside: (ii) cannot pass by luck.
    expect(await tcpConnects(client().ns, DC_SHARER.ip, DC_SHARER.port)).toBe(true);
  }, UNBLOCKED_TIMEOUT_MS + 20_000);

  it('(i) without the sensor, the same over the TLS hub (adcs://), with clear and with TLS client-to-client connections', async () => {
    for (const clientTls of ['disabled', 'prefer'] as const) {
      const result = await runDcClient(lab, client().ns, 'adcs', { timeoutMs: UNBLOCKED_TIMEOUT_MS, clientTls });
      record(`adcs (client-to-client ${clientTls === 'prefer' ? 'TLS' : 'clear'}) without sensor`, result);
      expect(result, JSON.stringify(result)).toMatchObject({ complete: true, downloadedBytes: DC_CONTENT.size });
    }
  }, 2 * UNBLOCKED_TIMEOUT_MS + 20_000);

  describe.skipIf(NO_MODULE !== '')(`with the sensor in the gateway${NO_MODULE ? ` (skipped: ${NO_MODULE})` : ''}`, () => {
    it('(ii) the client is identified by its hub login (HSUP), the hub is learned, and it reaches no outside peer: 0 bytes; its web traffic and a benign host’s pass', async () => {
      const sensor = await startSensor();
      const result = await runDcClient(lab, client().ns, 'adc', { timeoutMs: BLOCKED_TIMEOUT_MS });
      const rule = identification(sensor, client().ipv4);
      record('adc with sensor', result, rule);
      expect(rule, 'the sensor identified the client').toBe('direct-connect/adc-hub-login');
      expect(result, JSON.stringify(result)).toMatchObject({ complete: false, fileListBytes: 0, downloadedBytes: 0, incompleteBytes: 0 });
      // The hub is in the kernel's set of learned endpoints (its TCP port).
      const learned = await ipsetMembers(lab, lab.site('a').gateway, 'p2pwall-peer-ep4');
      expect(learned).toContain(`${DC_HUB.ip},tcp:${DC_HUB.port}`);
      // The identified host reaches no outside client on a high port (the time-lock), …
      expect(await tcpConnects(client().ns, DC_SHARER.ip, DC_SHARER.port)).toBe(false);
      // … while its own web traffic and a benign host's web, TLS and high-port traffic pass.
      const [own, benign] = await Promise.all([
        lab.emulate(client().ns, 'benign-client', ['--checks', 'http,tls,dns']).wait(60_000),
        lab.emulate(lab.site('a').clients[2]!.ns, 'benign-client', ['--checks', 'http,tls,dns,ntp,udp-high,bulk', '--bulk-bytes', '5000000']).wait(60_000),
      ]);
      expect(own.summary).toMatchObject({ allOk: true });
      expect(benign.summary).toMatchObject({ allOk: true, 'udp-high': { ok: true }, bulk: { ok: true, bytes: 5_000_000, target: formatEndpoint({ ip: LAB_HOSTS.web, port: 5001 }) } });
      expect(identification(sensor, lab.site('a').clients[2]!.ipv4)).toBeUndefined();
    }, BLOCKED_TIMEOUT_MS + 90_000);

    it('(iii) over the TLS hub the login is not seen (a ClientHello is no Direct Connect): TLS between clients too gets through; a clear client-to-client connection (CSUP) is seen and gets nothing, and then the TLS client gets nothing either', async () => {
      // Other inside hosts than (ii)'s, and the all-TLS run first: the kernel of a host whose
      // handshake was dropped goes on retransmitting it from the closed socket for a while, and
      // a fresh sensor would identify that host by it and learn its peer.
      const [clearHost, tlsHost] = [lab.site('a').clients[1]!, lab.site('a').clients[2]!];
      const first = await startSensor();
      const unseen = await runDcClient(lab, tlsHost.ns, 'adcs', { timeoutMs: UNBLOCKED_TIMEOUT_MS, clientTls: 'prefer' });
      record('adcs, client-to-client TLS, fresh sensor', unseen, identification(first, tlsHost.ipv4));
      expect(identification(first, tlsHost.ipv4)).toBeUndefined();
      expect(unseen, JSON.stringify(unseen)).toMatchObject({ complete: true, downloadedBytes: DC_CONTENT.size });
      await first.stop();

      const sensor = await startSensor();
      const clear = await runDcClient(lab, clearHost.ns, 'adcs', { timeoutMs: BLOCKED_TIMEOUT_MS, clientTls: 'disabled' });
      const rule = identification(sensor, clearHost.ipv4);
      record('adcs, client-to-client clear, with sensor', clear, rule);
      expect(rule, 'identified by the client-to-client handshake, not by the TLS hub login').toBe('direct-connect/adc-peer');
      expect(clear.downloadedBytes, JSON.stringify(clear)).toBe(0);
      const learned = await ipsetMembers(lab, lab.site('a').gateway, 'p2pwall-peer-ep4');
      // The TLS hub is no learned peer (nothing on its flow was Direct Connect to the sensor); the
      // outside client called in clear is (the TLS hub's sharer listens one port above the clear one's).
      expect(learned.some((entry) => entry.startsWith(`${DC_TLS_HUB.ip},tcp:${DC_TLS_HUB.port}`))).toBe(false);
      expect(learned).toContain(`${DC_SHARER.ip},tcp:${DC_SHARER.port + 1}`);
      // Now the all-TLS client that got everything before gets nothing: its peer is learned.
      const known = await runDcClient(lab, tlsHost.ns, 'adcs', { timeoutMs: BLOCKED_TIMEOUT_MS, clientTls: 'prefer' });
      record('adcs, client-to-client TLS, peer learned from another host', known, identification(sensor, tlsHost.ipv4));
      expect(known.downloadedBytes, JSON.stringify(known)).toBe(0);
      expect(identification(sensor, tlsHost.ipv4)).toBeUndefined();
    }, 2 * BLOCKED_TIMEOUT_MS + UNBLOCKED_TIMEOUT_MS + 60_000);
  });
});
