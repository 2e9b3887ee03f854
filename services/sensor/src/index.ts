// The sensor's public API: the pure core (decode, detect, track, engine) and the offline
// capture sources, for the lab, the benchmarks and tools.
export * from './decode/packet.js';
export * from './decode/address.js';
export { CidrSet, CidrError, DEFAULT_INSIDE_NETWORKS, parseCidr } from './decode/cidr.js';
export * from './capture/index.js';
export { Engine, EngineCounters, Reason, Verdict } from './engine.js';
export { engineConfig, DEFAULT_OPEN_PORTS, type EngineConfig } from './engine-config.js';
export type * from './events.js';
export { protocolModules, activeModules, checkModule, ModuleRegistryError, type ActiveModule, type ModuleSelection } from './detect/registry.js';
export type { ProtocolModule, Evidence, NamedPeer, FlowDigest, FlowMemory, PacketReader, ModuleSettings } from './detect/module.js';
export { Storefile } from './enforce/storefile.js';
export { type StoredPeer, formatStoredPeer, parseStorefile } from './enforce/storefile-format.js';
export { replay } from './analyze/replay.js';
