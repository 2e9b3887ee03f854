import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Pod, Secret, Service } from 'kubernetes-models/v1';
import ts from 'typescript';
import { join } from 'node:path';
import { REPO, type Manifest } from './helm.js';

/**
 * Offline checks of rendered manifests against the Kubernetes API schemas (kubernetes-models:
 * the OpenAPI schemas of the API server, and the prometheus-operator CRDs).
 */

interface Model {
  validate(): void;
}
type ModelClass = new (data: never) => Model;

/** Every kind the chart may render, with its model and the TypeScript interface of that model. */
const KINDS: Record<string, { model: ModelClass; module: string; type: string }> = {
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/Pod': { model: Pod, module: 'kubernetes-models/v1/Pod', type: 'IPod' },
  'apps/v1/DaemonSet': { model: DaemonSet, module: 'kubernetes-models/apps/v1/DaemonSet', type: 'IDaemonSet' },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor', type: 'IServiceMonitor' },
  'monitoring.coreos.com/v1/PodMonitor': { model: PodMonitor, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor', type: 'IPodMonitor' },
  'monitoring.coreos.com/v1/PrometheusRule': { model: PrometheusRule, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule', type: 'IPrometheusRule' },
};

const kindOf = (manifest: Manifest): string => `${manifest.apiVersion}/${manifest.kind}`;
const label = (manifest: Manifest): string => `${manifest.kind}/${manifest.metadata?.name ?? '?'}`;

/**
 * Schema validation: types, required fields, formats (quantities, int-or-string, ...). A kind
 * without a schema here is a problem too, so a new template cannot slip past.
 */
export function schemaProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const manifest of manifests) {
    const entry = KINDS[kindOf(manifest)];
    if (!entry) {
      problems.push(`${label(manifest)}: no schema for ${kindOf(manifest)}`);
      continue;
    }
    try {
      new entry.model(manifest as never).validate();
    } catch (error) {
      problems.push(`${label(manifest)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

/**
 * Unknown fields. The OpenAPI schemas leave objects open, so a misspelt field (securityContxt)
 * passes them and the API server drops it without a word. TypeScript's excess-property check
 * against the models' interfaces catches it: each manifest becomes a typed object literal.
 */
export function unknownFieldProblems(manifests: Manifest[]): string[] {
  const fileName = join(REPO, 'deploy/test/__rendered_manifests__.ts');
  const lines: string[] = [];
  const known = manifests.filter((m) => KINDS[kindOf(m)]);
  known.forEach((manifest, index) => {
    const entry = KINDS[kindOf(manifest)]!;
    lines.push(`import type { ${entry.type} as T${index} } from '${entry.module}';`);
  });
  known.forEach((manifest, index) => {
    lines.push(`// ${label(manifest)}`, `export const m${index}: T${index} = ${JSON.stringify(manifest)};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readSource = host.getSourceFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === fileName ? ts.createSourceFile(name, source, language) : readSource(name, language, ...rest));
  host.fileExists = (name) => name === fileName || exists(name);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    if (diagnostic.file?.fileName !== fileName || diagnostic.start === undefined) return message;
    // Name the manifest: the comment line above the const that holds the error.
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const owner = source.split('\n').slice(0, line + 1).reverse().find((text) => text.startsWith('// '));
    return `${owner?.slice(3) ?? '?'}: ${message}`;
  });
}
