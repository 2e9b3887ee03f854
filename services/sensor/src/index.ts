export * from './decode/packet.js';
