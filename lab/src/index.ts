export * from './packets.js';
export * from './fasttrack/payloads.js';
export { TcpConversation } from './synthetic/tcp-conversation.js';
export { seededRandom } from './synthetic/random.js';
export * from './synthetic/scenarios.js';
export { writeScenario } from './synthetic/write.js';
