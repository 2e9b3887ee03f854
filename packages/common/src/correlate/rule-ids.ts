import { RULE_NAMESPACES, isProtocolName, parseRuleId, ruleId, ruleNamespace } from '../formats.js';

/**
 * The rules the brain names in a decision's evidence, all `namespace/rule` (@p2pwall/common
 * ruleId): its correlation rules (`correlate/...`), the operators' manual decisions
 * (`operator/manual`), and the names it gives sensor evidence that came without a rule.
 */

export const CORRELATION_RULES = {
  /** An outside endpoint reached with P2P evidence by several inside hosts. */
  peerFanout: ruleId(RULE_NAMESPACES.correlate, 'peer-fanout'),
  /** An inside host's UDP fan-out to mostly unanswered endpoints. */
  udpFanout: ruleId(RULE_NAMESPACES.correlate, 'udp-fanout'),
  /** An inside host reaching outside IPs over both TCP and UDP. */
  tcpUdpPairs: ruleId(RULE_NAMESPACES.correlate, 'tcp-udp-pairs'),
  /** An inside host reaching peers the blocklist already blocks. */
  blockedPeers: ruleId(RULE_NAMESPACES.correlate, 'blocked-peers'),
} as const;

export type CorrelationRule = (typeof CORRELATION_RULES)[keyof typeof CORRELATION_RULES];

/** The rule of every operator's block and allow entry. */
export const OPERATOR_RULE = ruleId(RULE_NAMESPACES.operator, 'manual');

/** Whether a rule is one of the brain's correlation rules. */
export function isCorrelationRule(rule: string): boolean {
  return ruleNamespace(rule) === RULE_NAMESPACES.correlate;
}

/** The namespace of evidence from a sensor whose protocol is unnamed, or named in a way no protocol module can be. */
export const UNNAMED_PROTOCOL = 'p2p';

const RESERVED_NAMESPACES: ReadonlySet<string> = new Set(Object.values(RULE_NAMESPACES));

/**
 * A protocol a sensor named, as a rule namespace. A sensor's message is untrusted: a name that is
 * no protocol name, or that is one of the brain's and the operators' namespaces, is UNNAMED_PROTOCOL.
 */
export function protocolNamespace(protocol: string): string {
  return isProtocolName(protocol) && !RESERVED_NAMESPACES.has(protocol) ? protocol : UNNAMED_PROTOCOL;
}

/** Whether a sensor may name this rule: a protocol's `namespace/rule` id, not one of the brain's or the operators' namespaces. */
export function isSensorRuleId(text: string): boolean {
  const rule = parseRuleId(text);
  return rule !== undefined && !RESERVED_NAMESPACES.has(rule.namespace);
}

/** The rule of a peer block from a PeerLearned: the sensor's `via` when it is a protocol's rule id (`fasttrack/udp-ping`), else `<protocol>/peer-learned`. */
export function peerLearnedRule(protocol: string, via: string): string {
  const rule = parseRuleId(via);
  return rule && !RESERVED_NAMESPACES.has(rule.namespace) ? via : ruleId(protocolNamespace(protocol), 'peer-learned');
}

/** The rule of a host lock from a client identified without naming a rule: `<protocol>/client`. */
export function clientRule(protocol: string): string {
  return ruleId(protocolNamespace(protocol), 'client');
}
