/**
 * The chart's schema for the free-form `sensor.config`, `sensor.sites[].config` and
 * `brain.config` values, derived from the services' own config schemas: a typo there is refused
 * when the chart renders, instead of a pod that renders fine and then crash-loops on start.
 */
import type { ConfigSchema } from '@p2pwall/common';

/**
 * The same keys, types and bounds, without defaults (the service fills them) or required keys (the
 * chart sets site, gateway and the connections itself; a value here only overrides).
 */
export function overrideSchema(schema: ConfigSchema, description?: string): ConfigSchema {
  const { default: _default, required: _required, properties, items, ...rest } = schema;
  const converted: ConfigSchema = { ...rest };
  if (description !== undefined) converted.description = description;
  if (properties) converted.properties = Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, overrideSchema(child)]));
  if (items) converted.items = overrideSchema(items);
  return converted;
}

/** Where each derived schema sits in values.schema.json, and what it is derived from. */
export interface ConfigSchemaPlace {
  path: readonly string[];
  schema: ConfigSchema;
  description: string;
}

export function schemaAt(root: Record<string, unknown>, path: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
  return node as Record<string, unknown> | undefined;
}
