import { rmSync } from 'node:fs';
import type { Lab, LabProcess } from './netns/lab.js';
import type { SensorProcess } from './sensor-process.js';

export interface LabParts {
  sensors?: Iterable<SensorProcess>;
  /** Brains and other processes started in the lab, stopped before it goes down. */
  processes?: Iterable<LabProcess | undefined>;
  lab?: Lab;
  /** nats-server, redis-server: removed after the lab. */
  servers?: Iterable<{ cleanup(): Promise<void> }>;
  /** A working folder to delete. */
  work?: string;
}

/**
 * What an e2e test's afterAll does, in the order that leaves nothing behind: sensors (their rules
 * go), other processes, the lab's namespaces, the servers, the folder. Each part's failure is
 * swallowed so that the rest is still removed, also after a failed test.
 */
export async function tearDownLab(parts: LabParts): Promise<void> {
  for (const sensor of parts.sensors ?? []) {
    await sensor.stop().catch(() => undefined);
    sensor.cleanup();
  }
  for (const process of parts.processes ?? []) await process?.stop().catch(() => undefined);
  await parts.lab?.down();
  for (const server of parts.servers ?? []) await server.cleanup().catch(() => undefined);
  if (parts.work) rmSync(parts.work, { recursive: true, force: true });
}
