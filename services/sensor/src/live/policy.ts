import type { SensorConfig } from '../config.js';
import type { KernelPolicy } from '../enforce/rules.js';

/** The kernel side of the sensor's configuration. */
export function kernelPolicyFrom(config: SensorConfig): KernelPolicy {
  return {
    prefix: config.kernel.setPrefix,
    hooks: config.hooks,
    ipv6: config.ipv6,
    queues: config.queue.numbers,
    failOpen: config.queue.failOpen,
    connbytes: config.queue.connbytes,
    marks: { accepted: config.kernel.markAccepted, clean: config.kernel.markClean, peer: config.kernel.markPeer },
    openPorts: config.openPorts,
    timeLock: config.timeLockSeconds > 0,
    dropUdp: config.dropUdp,
    monitor: config.mode === 'monitor',
    cleanCheckPercent: config.kernel.cleanCheckPercent,
  };
}
