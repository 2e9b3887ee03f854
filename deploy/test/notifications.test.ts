import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { find, offlineChart, RELEASE, render, valuesFile, type Manifest, type OfflineChart } from './helm.js';
import { schemaProblems } from './kube-schemas.js';
import { containers, podSpec, type Container } from './pods.js';

/**
 * Brain notifications in the chart: sinks go in brain.config (checked at render against the
 * brain's own schema), their keys in a Secret of the operator's, mounted by
 * brain.notifications.existingSecret where the sinks' secretFile and syslog.tls files name them.
 */

let chart: OfflineChart;
const fullname = `${RELEASE}-p2pwall`;
const sinks = [
  { name: 'soc', type: 'webhook', url: 'https://soc.example.org/hooks/p2pwall', secretFile: '/etc/p2pwall/notifications/soc-key' },
  { name: 'siem', type: 'syslog', syslog: { transport: 'tls', host: 'siem.example.org', port: 6514, format: 'cef', tls: { ca: '/etc/p2pwall/notifications/siem-ca.pem' } } },
];

beforeAll(async () => {
  chart = await offlineChart();
}, 60_000);
afterAll(async () => {
  await chart?.remove();
});

const brainYaml = (manifests: Manifest[]): Record<string, unknown> => parse((find(manifests, 'ConfigMap', `${fullname}-brain`)['data'] as Record<string, string>)['brain.yaml']!) as Record<string, unknown>;
const mounts = (manifests: Manifest[]) => (containers(find(manifests, 'Deployment', `${fullname}-brain`))[0] as Container & { volumeMounts: { name: string; mountPath: string }[] }).volumeMounts;
const volumes = (manifests: Manifest[]) => podSpec(find(manifests, 'Deployment', `${fullname}-brain`))['volumes'] as { name: string; secret?: { secretName: string } }[];

describe('notifications in the chart', () => {
  it('none by default: no notifications volume', async () => {
    const manifests = await render(chart);
    expect(volumes(manifests).map((v) => v.name)).not.toContain('notifications');
  });

  it('sinks in brain.config reach brain.yaml; the keys Secret is mounted read-only where the sinks name its files', async () => {
    const manifests = await render(chart, [await valuesFile(chart, 'notify', { brain: { notifications: { existingSecret: 'p2pwall-notify-keys' }, config: { notifications: { sinks } } } })]);
    expect(schemaProblems(manifests)).toEqual([]);
    expect((brainYaml(manifests)['notifications'] as { sinks: unknown[] }).sinks).toEqual(sinks);
    expect(mounts(manifests)).toContainEqual({ name: 'notifications', mountPath: '/etc/p2pwall/notifications', readOnly: true });
    expect(volumes(manifests).find((v) => v.name === 'notifications')?.secret).toMatchObject({ secretName: 'p2pwall-notify-keys' });
  });

  it('refuses a misspelt sink key or type at render, naming it', async () => {
    await expect(render(chart, [await valuesFile(chart, 'notify-bad', { brain: { config: { notifications: { sinks: [{ name: 'soc', type: 'pager' }] } } } })])).rejects.toThrow(/type/);
    await expect(render(chart, [await valuesFile(chart, 'notify-key', { brain: { notifications: { existingSecret: 'x', secretName: 'y' } } })])).rejects.toThrow(/secretName/);
  });
});
