import { execFile } from 'node:child_process';
import { MULTI_SITE_VALUES, offlineChart, render, type Manifest } from './helm.js';

/**
 * What the chart gives a monitoring stack: the PrometheusRule's alerts and the Grafana dashboard,
 * read from rendered manifests, with the PromQL each holds. Shared by the chart's tests
 * (deploy/test/monitoring.test.ts) and the lab's telemetry test, which checks every metric they
 * name against the real sensor's and brain's /metrics.
 */

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroups {
  groups: { name: string; rules: Rule[] }[];
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { refId: string; expr: string }[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
}

/** The key of the dashboard in its ConfigMap. */
export const DASHBOARD_KEY = 'p2pwall.json';

export function ruleGroupsOf(manifests: Manifest[]): RuleGroups {
  const rules = manifests.filter((m) => m.kind === 'PrometheusRule');
  if (rules.length !== 1) throw new Error(`expected one PrometheusRule, found ${rules.length}`);
  return rules[0]!['spec'] as RuleGroups;
}

/** The ConfigMap of the dashboard (the one that holds DASHBOARD_KEY) and its parsed JSON. */
export function dashboardOf(manifests: Manifest[]): { configMap: Manifest; dashboard: Dashboard } {
  const configMaps = manifests.filter((m) => m.kind === 'ConfigMap' && DASHBOARD_KEY in ((m['data'] as Record<string, string> | undefined) ?? {}));
  if (configMaps.length !== 1) throw new Error(`expected one ConfigMap holding ${DASHBOARD_KEY}, found ${configMaps.length}`);
  const configMap = configMaps[0]!;
  return { configMap, dashboard: JSON.parse((configMap['data'] as Record<string, string>)[DASHBOARD_KEY]!) as Dashboard };
}

/** Every PromQL expression of the rules and the dashboard, each named by where it is. */
export function expressions(groups: RuleGroups, dashboard: Dashboard): { where: string; expr: string }[] {
  const fromRules = groups.groups.flatMap((group) => group.rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr })));
  const fromPanels = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel ${panel.id} "${panel.title}" ${target.refId}`, expr: target.expr })));
  return [...fromRules, ...fromPanels];
}

/**
 * The p2pwall series an expression reads: identifiers named p2pwall_… outside quoted strings
 * (label values). Every series the services export carries that prefix; `up` is Prometheus' own.
 */
export function p2pwallMetricNames(expr: string): string[] {
  const unquoted = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...new Set(unquoted.match(/\bp2pwall_[a-zA-Z0-9_:]*/g) ?? [])].sort();
}

/** The rules and the dashboard as the multi-site example renders them (both switched on there). */
export async function renderedMonitoring(): Promise<{ manifests: Manifest[]; groups: RuleGroups; dashboard: Dashboard }> {
  const chart = await offlineChart();
  try {
    const manifests = await render(chart, [MULTI_SITE_VALUES]);
    return { manifests, groups: ruleGroupsOf(manifests), dashboard: dashboardOf(manifests).dashboard };
  } finally {
    await chart.remove();
  }
}

/** Debian's promtool (package prometheus; scripts/setup installs it). */
export const PROMTOOL = '/usr/bin/promtool';

export function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(PROMTOOL, args, { cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const missing = error?.code === 'ENOENT' ? `${PROMTOOL} not found: install Debian's prometheus package (scripts/setup does)\n` : '';
      done({ code, output: `${missing}${stdout}${stderr}` });
    });
  });
}

/** A rules file of the YAML promtool reads. */
export function rulesFile(groups: RuleGroups): string {
  return `${JSON.stringify(groups, null, 2)}\n`;
}

/** Each expression as a recording rule, so promtool parses the dashboard's PromQL too. */
export function recordingRules(exprs: { expr: string }[]): RuleGroups {
  return { groups: [{ name: 'p2pwall-dashboard', rules: exprs.map((e, i) => ({ record: `p2pwall_dashboard:expr_${i}`, expr: e.expr })) }] };
}
