import { p2pwall } from '@p2pwall/proto';

/**
 * Metric label values of a decision's enums, from the protobuf names without their prefix
 * (SCOPE_ENDPOINT → endpoint), so a value added to the contract gets its label without a change
 * here. A number the contract does not know (a newer writer) is `unknown`: label values stay a
 * small, fixed set. Origins are named as everywhere else (@p2pwall/common's originLabel).
 */
function enumLabel(names: Record<number, string>, value: number, prefix: string): string {
  const name = names[value];
  return typeof name === 'string' && name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : 'unknown';
}

export const scopeLabel = (scope: p2pwall.v1.Scope): string => enumLabel(p2pwall.v1.Scope, scope, 'SCOPE_');
export const actionLabel = (action: p2pwall.v1.Action): string => enumLabel(p2pwall.v1.Action, action, 'ACTION_');
