import type { Flow } from '../track/flow.js';
import type { FlowMemory, ProtocolModule } from './module.js';

/**
 * The engine's side of FlowMemory: one object per active module, pointed at the flow of the
 * moment before each call, so a module's memory costs no allocation per packet. The states live
 * in `flow.moduleStates[slot]`.
 */
export class SlotMemory<State = unknown> implements FlowMemory<State> {
  flow: Flow | null = null;
  concluded = false;

  constructor(
    private readonly slot: number,
    private readonly module: ProtocolModule<State>,
  ) {}

  get state(): State | undefined {
    return this.flow?.moduleStates?.[this.slot] as State | undefined;
  }

  open(): State {
    const flow = this.flow!;
    const states = (flow.moduleStates ??= []);
    let state = states[this.slot] as State | undefined;
    if (state === undefined) {
      if (!this.module.createState) throw new Error(`protocol module "${this.module.name}" keeps state but has no createState`);
      state = this.module.createState();
      states[this.slot] = state;
    }
    return state;
  }

  close(): void {
    const states = this.flow?.moduleStates;
    if (states && states[this.slot] !== undefined) states[this.slot] = undefined;
  }

  /** Frees the state when the module says it holds nothing more (its done test). */
  closeIfDone(): void {
    const state = this.state;
    if (state !== undefined && this.module.isDone?.(state) === true) this.close();
  }
}
