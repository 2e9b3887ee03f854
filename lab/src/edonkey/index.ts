/** Real aMule in the lab: the plan (pure), one node, the outside Kad network, the inside client, wire captures. */
export * from './amule-plan.js';
export { AmuleNode, amuleUnavailableReason, type AmuleNodeOptions, type KadStatus } from './amule-node.js';
export { AmuleNetwork } from './amule-network.js';
export { runAmuleClient, type AmuleClientOptions, type AmuleClientRun } from './amule-client.js';
export { WireLog, parseWireLine, type WirePacket } from './wire-log.js';
