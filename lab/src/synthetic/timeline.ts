import { ethernet } from '../packets.js';

export interface SyntheticFrame {
  /** ms since the epoch. */
  ts: number;
  /** An Ethernet frame. */
  data: Uint8Array;
}

/** 2026-01-01T00:00:00Z: synthetic captures start here. */
export const SYNTHETIC_EPOCH = Date.UTC(2026, 0, 1);

/** Collects frames on a clock that only moves forward. */
export class Timeline {
  readonly frames: SyntheticFrame[] = [];
  constructor(public now: number) {}

  add(packets: Uint8Array | readonly Uint8Array[], stepMs = 0.2): void {
    for (const packet of Array.isArray(packets) ? packets : [packets as Uint8Array]) {
      this.frames.push({ ts: this.now, data: ethernet(packet) });
      this.now += stepMs;
    }
  }

  wait(ms: number): void {
    this.now += ms;
  }
}

/** `ip:port`, as expectations and FastTrack headers write an endpoint. */
export const endpoint = (ip: string, port: number): string => `${ip}:${port}`;
