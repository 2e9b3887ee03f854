export * from './generated/p2pwall.js';
