/**
 * The chart's PrometheusRule and Grafana dashboard (issue 17 §6). Rendered offline with the
 * multi-site example (both switched on there), the rules pass Debian's `promtool check rules`
 * and the unit tests of deploy/test/alerts (`promtool test rules`: input series → the alerts
 * expected); the dashboard is valid JSON with unique panel ids, each of its expressions parses in
 * promtool, and every metric it or the rules name is one the services export (checked here
 * against the README's tables, and against real /metrics in lab/test/e2e/telemetry.test.ts).
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMESPACE, REPO, offlineChart, render, valuesFile } from './helm.js';
import { schemaProblems, unknownFieldProblems } from './kube-schemas.js';
import { dashboardOf, DASHBOARD_KEY, expressions, p2pwallMetricNames, promtool, recordingRules, renderedMonitoring, rulesFile, type Dashboard, type RuleGroups } from './monitoring.js';
import type { Manifest } from './helm.js';

const UNIT_TESTS = join(REPO, 'deploy/test/alerts/p2pwall-alerts.test.yaml');
/** The alerts the chart ships with both monitors on. */
const ALERTS = ['P2pwallNewP2PHost', 'P2pwallSensorStale', 'P2pwallSensorUplinkDown', 'P2pwallSensorDown', 'P2pwallQueueDrops', 'P2pwallKernelSetNearFull', 'P2pwallBrainNotReady', 'P2pwallBrainDown', 'P2pwallIngestLag', 'P2pwallIncidentHistoryLost'];

let work: string;
let manifests: Manifest[];
let groups: RuleGroups;
let dashboard: Dashboard;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'p2pwall-monitoring-'));
  ({ manifests, groups, dashboard } = await renderedMonitoring());
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the PrometheusRule', () => {
  it('holds every alert, each with a severity and a summary, and validates against the prometheus-operator CRD', () => {
    const rules = groups.groups.flatMap((group) => group.rules);
    expect(rules.map((rule) => rule.alert)).toEqual(ALERTS);
    for (const rule of rules) {
      expect(rule.labels?.['severity'], rule.alert).toMatch(/^(info|warning|critical)$/);
      expect(rule.annotations?.['summary'], rule.alert).toBeTruthy();
    }
    const prometheusRule = manifests.filter((m) => m.kind === 'PrometheusRule');
    expect(prometheusRule.map((m) => [m.metadata.name, m.metadata.labels?.['release']])).toEqual([['edge-p2pwall-alerts', 'prometheus']]);
    expect(schemaProblems(prometheusRule)).toEqual([]);
    expect(unknownFieldProblems(prometheusRule)).toEqual([]);
  });

  it('watches `up` under the job names the prometheus-operator gives the chart\'s monitors\' targets', () => {
    // PodMonitor: "<namespace>/<name>"; ServiceMonitor: the name of the Service it selects.
    const podMonitor = manifests.find((m) => m.kind === 'PodMonitor')!;
    const service = manifests.find((m) => m.kind === 'Service' && m.metadata.labels?.['app.kubernetes.io/component'] === 'brain')!;
    const exprOf = (alert: string) => groups.groups.flatMap((g) => g.rules).find((rule) => rule.alert === alert)?.expr;
    expect(exprOf('P2pwallSensorDown')).toBe(`up{job="${podMonitor.metadata.namespace}/${podMonitor.metadata.name}"} == 0`);
    expect(exprOf('P2pwallBrainDown')).toBe(`up{job="${service.metadata.name}"} == 0`);
  });

  it('passes promtool check rules', async () => {
    await writeFile(join(work, 'rules.yaml'), rulesFile(groups));
    const result = await promtool(['check', 'rules', 'rules.yaml'], work);
    console.log(`promtool check rules: ${result.output.trim()}`);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it('raises the alerts its unit tests expect from input series (promtool test rules)', async () => {
    await writeFile(join(work, 'rules.yaml'), rulesFile(groups));
    await copyFile(UNIT_TESTS, join(work, 'alerts.test.yaml'));
    const result = await promtool(['test', 'rules', 'alerts.test.yaml'], work);
    console.log(`promtool test rules: ${result.output.trim()}`);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('is refused by promtool when an expression is broken (the check can fail)', async () => {
    const broken: RuleGroups = structuredClone(groups);
    broken.groups[0]!.rules[0]!.expr = 'sum by (site (p2pwall_brain_incidents_opened_total)';
    await writeFile(join(work, 'broken.yaml'), rulesFile(broken));
    const result = await promtool(['check', 'rules', 'broken.yaml'], work);
    expect(result.code).not.toBe(0);
  });

  it('is not rendered unless prometheusRule.enabled; the up alerts come only with their monitors', async () => {
    const chart = await offlineChart();
    try {
      expect((await render(chart)).filter((m) => m.kind === 'PrometheusRule')).toEqual([]);
      const alone = await render(chart, [await valuesFile(chart, 'rules-alone', { prometheusRule: { enabled: true, sensorStaleSeconds: 300 } })]);
      const rules = alone.filter((m) => m.kind === 'PrometheusRule').flatMap((m) => (m['spec'] as RuleGroups).groups.flatMap((g) => g.rules));
      expect(rules.map((rule) => rule.alert)).toEqual(ALERTS.filter((alert) => alert !== 'P2pwallSensorDown' && alert !== 'P2pwallBrainDown'));
      expect(rules.find((rule) => rule.alert === 'P2pwallSensorStale')?.expr).toMatch(/> 300$/);
      await expect(render(chart, [await valuesFile(chart, 'rules-bad', { prometheusRule: { enabled: true, kernelSetFillRatio: 2 } })])).rejects.toThrow(/prometheusRule\.kernelSetFillRatio/);
    } finally {
      await chart.remove();
    }
  });
});

describe('the Grafana dashboard', () => {
  it('is a ConfigMap with the sidecar label, in the namespace asked for, holding the chart\'s dashboard file unchanged', async () => {
    const { configMap } = dashboardOf(manifests);
    expect(configMap.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect(configMap.metadata.namespace).toBe('monitoring');
    const file = await readFile(join(REPO, 'deploy/helm/p2pwall/dashboards/p2pwall.json'), 'utf8');
    expect(JSON.parse((configMap['data'] as Record<string, string>)[DASHBOARD_KEY]!)).toEqual(JSON.parse(file));
    expect(schemaProblems([configMap])).toEqual([]);
    const chart = await offlineChart();
    try {
      const plain = await render(chart, [await valuesFile(chart, 'dashboard', { grafanaDashboard: { enabled: true, labels: { grafana_dashboard: 'p2pwall' } } })]);
      const rendered = dashboardOf(plain).configMap;
      expect([rendered.metadata.namespace, rendered.metadata.labels?.['grafana_dashboard']]).toEqual([NAMESPACE, 'p2pwall']);
      const defaults = await render(chart);
      expect(() => dashboardOf(defaults)).toThrow(/found 0/);
    } finally {
      await chart.remove();
    }
  });

  it('is a dashboard Grafana loads: schemaVersion, uid, unique panel ids, panels inside the 24-column grid, a query per panel', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type !== 'row') expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('has expressions promtool parses', async () => {
    const exprs = expressions({ groups: [] }, dashboard);
    expect(exprs.length).toBeGreaterThan(20);
    await writeFile(join(work, 'dashboard-rules.yaml'), rulesFile(recordingRules(exprs)));
    const result = await promtool(['check', 'rules', 'dashboard-rules.yaml'], work);
    expect(result.code, result.output).toBe(0);
  });
});

describe('every metric the rules and the dashboard name', () => {
  it('is in the README\'s telemetry tables, which list what the services export', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const documented = new Set(readme.match(/`p2pwall_[a-z0-9_]+`/g)?.map((name) => name.slice(1, -1)));
    const missing: string[] = [];
    for (const { where, expr } of expressions(groups, dashboard)) {
      const names = p2pwallMetricNames(expr);
      // the alerts on a scrape target down read Prometheus' own `up` of the chart's monitors
      if (names.length === 0) expect(expr, where).toMatch(/^up\{job="[^"]+"\} == 0$/);
      for (const name of names) if (!documented.has(name.replace(/_(bucket|sum|count)$/, ''))) missing.push(`${where}: ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it('is read from an expression by name, not from a label value', () => {
    expect(p2pwallMetricNames('sum by (site) (rate(p2pwall_sensor_verdicts_total{reason="p2pwall_x"}[5m])) / p2pwall_a:b')).toEqual(['p2pwall_a:b', 'p2pwall_sensor_verdicts_total']);
  });
});
