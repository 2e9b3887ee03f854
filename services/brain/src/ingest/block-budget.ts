/** New decisions one sensor (site/gateway of its subject) may cause per minute, unless brain.yaml says otherwise. */
export const DEFAULT_MAX_NEW_DECISIONS_PER_SENSOR_PER_MINUTE = 2000;

/**
 * New blocks one sensor may cause per minute (pure, the clock passed in): a sensor that goes wrong
 * or is taken over cannot fill every gateway's blocklist. Fixed one-minute windows per sensor;
 * memory is bounded (when full, the windows start over).
 */
export class BlockBudget {
  private readonly windows = new Map<string, { startMs: number; used: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxSensors = 10_000,
  ) {}

  /** True when `sensor` may add one more new block now (and counts it). */
  take(sensor: string, nowMs: number): boolean {
    let window = this.windows.get(sensor);
    if (!window || nowMs - window.startMs >= 60_000) {
      if (!window && this.windows.size >= this.maxSensors) this.windows.clear();
      window = { startMs: nowMs, used: 0 };
      this.windows.set(sensor, window);
    }
    if (window.used >= this.perMinute) return false;
    window.used += 1;
    return true;
  }
}
