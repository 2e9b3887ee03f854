/** Networks (CIDR) live in @p2pwall/common: the brain filters by them too. */
export { CidrError, CidrSet, DEFAULT_INSIDE_NETWORKS, parseCidr, parseNetwork } from '@p2pwall/common/cidr';
