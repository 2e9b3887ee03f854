import { SYN, nodePing, tcp, udp } from '@p2pwall/lab';
import type { EngineConfig } from '../../src/engine-config.js';
import { Engine, type Verdict } from '../../src/engine.js';
import type { EngineEvent, FlowEvent } from '../../src/events.js';

/** Test addresses: documentation ranges outside, 192.168.1.0/24 inside. */
export const T0 = Date.UTC(2026, 0, 1);
export const CLIENT = '192.168.1.5';
export const OTHER_HOST = '192.168.1.20';
export const PEER = { ip: '203.0.113.9', port: 3531 };

/** An engine and the events it emitted; `send` judges one packet at T0 + ms. */
export class Gateway {
  readonly events: EngineEvent[] = [];
  readonly engine: Engine;

  constructor(config: Partial<EngineConfig> = {}) {
    this.engine = new Engine(config, (event) => this.events.push(event));
  }

  send(packet: Uint8Array, ms = 0): Verdict {
    return this.engine.judgeIp(packet, 0, packet.length, T0 + ms);
  }

  get reason(): string {
    return this.engine.lastReason;
  }

  of<K extends EngineEvent['event']>(kind: K): (EngineEvent & { event: K })[] {
    return this.events.filter((e): e is EngineEvent & { event: K } => e.event === kind);
  }

  flows(at = 0): FlowEvent[] {
    this.engine.flush(T0 + at);
    return this.of('flow');
  }
}

export const ping = (dst = PEER, src = CLIENT, sport = 1214) => udp({ src, dst: dst.ip, sport, dport: dst.port, payload: nodePing() });
export const syn = (src: string, dst: string, dport: number, sport = 40000) => tcp({ src, dst, sport, dport, flags: SYN });
