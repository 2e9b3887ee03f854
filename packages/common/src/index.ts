export { createLogger, routeConsoleWarnings, type Logger, type LoggerOptions } from './logging.js';
export { packageVersion } from './version.js';
export { EVE_P2P_CATEGORY, EVE_SEVERITY, eveAlert, eveEndpointsOfFlowText, eveFlow, eveFlowId, eveProto, eveSignatureId, eveTimestamp, type EveAlertInput, type EveEndpoints, type EveEvent, type EveFlowInput } from './eve.js';
export { LogLimiter } from './log-limit.js';
export { InvalidValueError, collect, integerInRange, portList } from './cli-values.js';
export { ConfigError, listenHostProblem, loadConfig, MAX_CONFIG_ALIASES, redactSecrets, redactUrlPasswords, REDACTED, type ConfigSchema, type LoadConfigOptions } from './config.js';
export { SUBJECTS, STREAMS, CONSUMERS, REDIS_KEYS, NameError, sensorName, senderOfSubject, sensorNatsPermissions, type IncidentIndex, type SubjectSender } from './names.js';
export { formatAddress, parseAddress } from './address.js';
export { CidrError, CidrSet, DEFAULT_INSIDE_NETWORKS, networkAddress, networksOverlap, networkText, outsideNetworkText, parseCidr, parseNetwork, parseOutsideNetwork, type Network } from './cidr.js';
export { connectionCause, ConnectionLog, type ConnectionLogOptions } from './connection-log.js';
export { connectionFailure, ConnectionFileError, natsConnectionProblems, natsSecuritySettings, redisConnectionProblems, redisSecuritySettings, serverTlsProblems, type ConnectionFailure, type NatsConnectionConfig, type NatsKeyNames, type NatsSecuritySettings, type RedisConnectionConfig, type RedisSecuritySettings, type TlsFiles } from './connections.js';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry/start.js';
export { TELEMETRY_CONFIG_SCHEMA, TELEMETRY_DEFAULTS, telemetryConfigProblems, type TelemetryConfig } from './telemetry/config.js';
export { HealthRegistry, type ComponentHealth, type Readiness } from './telemetry/health.js';
export { injectTraceparent, extractContext, type HeaderGetter, type HeaderSetter } from './telemetry/propagation.js';
export { TelemetryError } from './telemetry/server.js';
export { LATENCY_BUCKETS_SECONDS } from './telemetry/buckets.js';
export {
  IPPROTO_TCP,
  IPPROTO_UDP,
  RULE_NAMESPACES,
  RuleIdError,
  TRANSPORTS,
  endpointText,
  ipProtocolName,
  isProtocolName,
  isTransport,
  parseEndpoint,
  parseEndpointText,
  parseIpProtocolName,
  parseRuleId,
  parseSiteHost,
  ruleId,
  ruleNamespace,
  siteHostText,
  siteOfSiteHost,
  transportOfIpProtocol,
  type Transport,
} from './formats.js';
export {
  ALLOW_PREFIX,
  MAX_DECISION_ID_LENGTH,
  ORIGIN_NAMES,
  allowId,
  blockedPeer,
  decisionId,
  decisionIdOf,
  endpointBlockIdPrefixes,
  isAllowId,
  isOriginName,
  parseDecisionId,
  peerBlockIds,
  peerToken,
  type DecisionTarget,
  type OriginName,
} from './decisions.js';
export { originLabel, originName, transportOfWire, wireOrigin, wireTransport } from './wire-enums.js';
export { isPrivateAddress, isReservedAddress, unblockableAddressReason, unblockableNetworkReason } from './reserved.js';
