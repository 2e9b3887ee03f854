/**
 * The protocol modules the sensor knows: one line each. Everything else about a protocol lives
 * in its folder under detect/.
 */
import { isProtocolName, parseRuleId } from '@p2pwall/common';
import { bitTorrent } from './bittorrent/bittorrent.js';
import { dns } from './dns/dns.js';
import { directConnect } from './direct-connect/direct-connect.js';
import { edonkey } from './edonkey/edonkey.js';
import { fastTrack } from './fasttrack/fasttrack.js';
import { gnutella } from './gnutella/gnutella.js';
import { soulseek } from './soulseek/soulseek.js';
import type { ModuleSettings, ProtocolModule } from './module.js';

export const protocolModules: readonly ProtocolModule[] = [fastTrack, bitTorrent, gnutella, edonkey, soulseek, directConnect, dns];

/** Modules one engine can run: their per-flow flags are bits of a 32-bit number. */
export const MAX_MODULES = 30;

export class ModuleRegistryError extends Error {}

/** A module the engine runs, with its effective depth. */
export interface ActiveModule {
  readonly module: ProtocolModule;
  /** Payload packets per flow it sees: its own depth or the operator's, never above the engine's bound. */
  readonly inspectPackets: number;
}

/** What an operator may say per protocol (`detectors:` in the YAML, `--detectors` in analyze). */
export type ModuleSelection = Readonly<Record<string, Partial<ModuleSettings>>>;

/** Throws when a module breaks the contract: a bad name, no transport, a rule outside its namespace. */
export function checkModule(module: ProtocolModule): void {
  const where = `protocol module "${module.name}"`;
  if (!isProtocolName(module.name)) throw new ModuleRegistryError(`${where}: its name must be lower-case letters, digits and dashes`);
  if (module.transports.length === 0) throw new ModuleRegistryError(`${where}: reads no transport`);
  if (!(Number.isInteger(module.inspectPackets) && module.inspectPackets >= 1)) throw new ModuleRegistryError(`${where}: inspectPackets must be a whole number >= 1`);
  if (!Number.isFinite(module.priority)) throw new ModuleRegistryError(`${where}: priority must be a number`);
  for (const rule of module.rules) {
    if (parseRuleId(rule)?.namespace !== module.name) throw new ModuleRegistryError(`${where}: rule "${rule}" is not "${module.name}/<rule>"`);
  }
  if ((module.isDone === undefined) !== (module.createState === undefined)) throw new ModuleRegistryError(`${where}: createState and isDone go together`);
  if (module.heldBytes !== undefined && module.createState === undefined) throw new ModuleRegistryError(`${where}: heldBytes without createState`);
  for (const family of module.families ?? []) {
    if (!isProtocolName(family)) throw new ModuleRegistryError(`${where}: family "${family}" is not a protocol name`);
  }
  for (const option of Object.keys(module.options?.schema ?? {})) {
    if (option === 'enabled' || option === 'inspectPackets') throw new ModuleRegistryError(`${where}: option "${option}" is one every module has`);
  }
}

/** The module's options in `settings` (every key but enabled and inspectPackets). */
export function moduleOptionsOf(settings: Partial<ModuleSettings>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) if (key !== 'enabled' && key !== 'inspectPackets') options[key] = value;
  return options;
}

/**
 * The module as the operator configured it: its `configure` with the options given, after its
 * own checks; the registered module when it has no options or none are given. Throws
 * ModuleRegistryError naming the key.
 */
export function configuredModule(module: ProtocolModule, settings: Partial<ModuleSettings> | undefined): ProtocolModule {
  const options = settings === undefined ? {} : moduleOptionsOf(settings);
  const keys = Object.keys(options);
  if (keys.length === 0) return module;
  const spec = module.options;
  if (spec === undefined) throw new ModuleRegistryError(`detectors.${module.name}.${keys[0]}: the ${module.name} module has no options`);
  const unknown = keys.find((key) => !(key in spec.schema));
  if (unknown !== undefined) throw new ModuleRegistryError(`detectors.${module.name}.${unknown}: unknown option (known: ${Object.keys(spec.schema).join(', ')})`);
  const problems = spec.problems(options);
  if (problems.length > 0) throw new ModuleRegistryError(problems.map((problem) => `detectors.${module.name}.${problem}`).join('; '));
  const configured = spec.configure(options);
  checkModule(configured);
  if (configured.name !== module.name) throw new ModuleRegistryError(`protocol module "${module.name}": configure returned "${configured.name}"`);
  return configured;
}

/**
 * The modules to run, highest priority first. `selection` names protocols to configure: an
 * unknown name is an error naming the key; a module it does not mention runs with its defaults,
 * unless `onlyNamed` (analyze's `--detectors`) leaves it out. `maxInspectPackets` is the engine's
 * bound on every module's depth.
 */
export function activeModules(selection: ModuleSelection = {}, maxInspectPackets = 16, options: { onlyNamed?: boolean; available?: readonly ProtocolModule[] } = {}): ActiveModule[] {
  const available = options.available ?? protocolModules;
  const names = new Set<string>();
  for (const module of available) {
    checkModule(module);
    if (names.has(module.name)) throw new ModuleRegistryError(`protocol module "${module.name}" is registered twice`);
    names.add(module.name);
  }
  for (const name of Object.keys(selection)) {
    if (!names.has(name)) throw new ModuleRegistryError(`detectors.${name}: unknown protocol (known: ${[...names].join(', ')})`);
  }
  const active: ActiveModule[] = [];
  for (const module of available) {
    const settings = selection[module.name];
    if (settings === undefined ? options.onlyNamed === true : settings.enabled === false) continue;
    const depth = settings?.inspectPackets ?? module.inspectPackets;
    if (!(Number.isInteger(depth) && depth >= 1)) throw new ModuleRegistryError(`detectors.${module.name}.inspectPackets: must be a whole number >= 1, got ${depth}`);
    active.push({ module: configuredModule(module, settings), inspectPackets: Math.min(depth, maxInspectPackets) });
  }
  if (active.length > MAX_MODULES) throw new ModuleRegistryError(`at most ${MAX_MODULES} protocol modules can run at once`);
  // Stable: equal priorities keep their registry order.
  return active.sort((a, b) => b.module.priority - a.module.priority);
}
