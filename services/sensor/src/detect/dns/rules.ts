/**
 * The DNS module's name and rule ids. Its evidence is about other families (Evidence.family):
 * the rule stays `dns/…`, the client and the peers are the named family's.
 */
import { ruleId } from '@p2pwall/common';

export const DNS = 'dns';

const rule = (name: string): string => ruleId(DNS, name);

export const DnsRule = {
  /** An inside host asked for an identifying name (a DHT router): it runs that family's client. */
  nameQuery: rule('name-query'),
  /** An inside host asked for a supporting name (a public tracker, a server-list site): counted only. */
  supportingQuery: rule('supporting-query'),
  /** One of the organisation's resolvers (`resolvers:`) asked for a watched name, for someone else: counted only. */
  resolverQuery: rule('resolver-query'),
  /** The answer to such a query on the same flow (same id and question): its addresses are learned (the via of those peers). */
  nameAnswer: rule('name-answer'),
} as const;
export type DnsRule = (typeof DnsRule)[keyof typeof DnsRule];

/** Addresses taken from one answer at most (each learned on every endpoint its name declares). */
export const MAX_ANSWER_ADDRESSES = 16;
/** Queries for watched names one flow keeps waiting for their answer (a retry replaces its twin). */
export const MAX_PENDING_QUERIES = 8;
/** CNAME steps followed from the question to the addresses. */
export const MAX_ALIAS_STEPS = 8;
