import type { Flow } from '../track/flow.js';
import type { ModuleBufferBudget } from './buffer-budget.js';
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
    readonly buffers: ModuleBufferBudget,
    /** How many modules the engine runs: a flow's states array is made that long, not grown. */
    private readonly slots: number,
  ) {}

  get state(): State | undefined {
    return this.flow?.moduleStates?.[this.slot] as State | undefined;
  }

  open(): State {
    const flow = this.flow!;
    // Sized once: a growing [] would reserve 16 slots per flow that keeps state.
    const states = (flow.moduleStates ??= new Array<unknown>(this.slots).fill(undefined));
    let state = states[this.slot] as State | undefined;
    if (state === undefined) {
      if (!this.module.createState) throw new Error(`protocol module "${this.module.name}" keeps state but has no createState`);
      state = this.module.createState();
      states[this.slot] = state;
    }
    return state;
  }

  /** Frees the state, giving back the buffer budget it still holds. */
  close(): void {
    const states = this.flow?.moduleStates;
    if (!states) return;
    const state = states[this.slot] as State | undefined;
    if (state === undefined) return;
    if (this.module.heldBytes) this.buffers.release(this.module.heldBytes(state));
    states[this.slot] = undefined;
  }

  pass(): void {
    this.close();
    this.flow!.passedModules |= 1 << this.slot;
  }

  /** Frees the state when the module says it holds nothing more (its done test). */
  closeIfDone(): void {
    const state = this.state;
    if (state !== undefined && this.module.isDone?.(state) === true) this.close();
  }
}
