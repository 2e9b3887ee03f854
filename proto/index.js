import './long-as-number.js';

export * from './generated/p2pwall.js';
