import type { Manifest } from './helm.js';

/** The parts of a container spec the tests read. */
export interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports?: Array<{ name?: string; containerPort: number; hostPort?: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

/** The pod spec of a Pod, or of the pod template of a workload. */
export function podSpec(manifest: Manifest): Record<string, unknown> {
  if (manifest.kind === 'Pod') return manifest['spec'] as Record<string, unknown>;
  const spec = manifest['spec'] as { template?: { spec?: Record<string, unknown> } } | undefined;
  if (!spec?.template?.spec) throw new Error(`${manifest.kind}/${manifest.metadata.name} has no pod template`);
  return spec.template.spec;
}

export function containers(manifest: Manifest): Container[] {
  return (podSpec(manifest)['containers'] as Container[] | undefined) ?? [];
}
