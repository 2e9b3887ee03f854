/**
 * Evidence matched, by protocol and rule: what `p2pwall_sensor_detections_total` reports. Kept by
 * the engine because only it sees each match; nested maps so that counting one allocates nothing
 * once a (protocol, rule) pair has been seen. Both come from the detectors' constant names, so the
 * number of pairs is bounded by the rule set.
 */
export class DetectionCounts {
  private readonly byProtocol = new Map<string, Map<string, number>>();

  add(protocol: string, rule: string): void {
    let rules = this.byProtocol.get(protocol);
    if (rules === undefined) {
      rules = new Map();
      this.byProtocol.set(protocol, rules);
    }
    rules.set(rule, (rules.get(rule) ?? 0) + 1);
  }

  /** Calls `visit` once per (protocol, rule) pair seen so far. */
  forEach(visit: (protocol: string, rule: string, count: number) => void): void {
    for (const [protocol, rules] of this.byProtocol) for (const [rule, count] of rules) visit(protocol, rule, count);
  }
}
