/**
 * The brain's correlation core (pure): sensors' summary batches read as observations, the
 * payload-free rules over endpoint sets and host windows, and their thresholds. The brain runs
 * it on every batch; `p2pwall-sensor analyze --correlate` runs the same code over a capture.
 */
export * from './address.js';
export * from './config.js';
export * from './observe.js';
export * from './rule-ids.js';
export * from './rules.js';
export * from './sane-strings.js';
export * from './sane-values.js';
export * from './window.js';
export * from './window-tally.js';
export * from './offline.js';
