// The simulator's application is corral's own: core/state's FSM and appliers
// (through FsmStateMachine, exactly as a real node runs them), fed KVSet
// commands. This file only adds what the checkers need: the outcome of each
// applied entry and a hash of the replica's state after each applied index,
// which must be equal on every replica (State Machine Safety, compared at
// every index), and the register view the clients read.
import type { DriverStateMachine, Entry, Snapshot } from "../../core/raft/index.ts";
import type { FsmStateMachine } from "../../core/cluster/raft/fsm-machine.ts";
import type { AppliedEntry, Fsm } from "../../core/state/fsm.ts";
import type { Store } from "../../core/store/db.ts";

export interface SimApplied {
  entry: Entry;
  applied: AppliedEntry;
  /** Hash of the replicated state right after `entry` was applied. */
  hash: number;
  /** The applier's outcome, as JSON: equal on every replica too. */
  result: string;
}

/** What a client sees of one key: the register's value and Consul's ModifyIndex (for CAS). */
export interface Register {
  value: number | null;
  modifyIndex: number;
}

/** The command a client proposes: a KVSet, optionally check-and-set on the ModifyIndex it read. */
export function kvSetCommand(key: string, value: number, cas?: number): string {
  return JSON.stringify({ type: "KVSet", v: 1, at: 0, key, value: btoa(String(value)), flags: 0, ...(cas === undefined ? {} : { cas }) });
}

/** Whether an applied KVSet took effect (a failed CAS answers value false). */
export function kvSetSucceeded(a: AppliedEntry): boolean {
  return a.result.ok && (a.result as { value?: unknown }).value !== false;
}

export class SimApp implements DriverStateMachine<SimApplied> {
  constructor(
    private readonly store: Store,
    readonly fsm: Fsm,
    private readonly inner: FsmStateMachine,
  ) {}

  get appliedIndex(): number {
    return this.fsm.appliedIndex();
  }

  get(key: string): Register {
    const row = this.store.client.prepare("SELECT value, modify_index AS modifyIndex FROM kv WHERE key = ?").get(key) as
      | { value: string; modifyIndex: number }
      | undefined;
    return row ? { value: Number(atob(row.value)), modifyIndex: row.modifyIndex } : { value: null, modifyIndex: 0 };
  }

  restore(snap: Snapshot): void {
    this.inner.restore(snap);
  }

  apply(entry: Entry): SimApplied | undefined {
    const applied = this.inner.apply(entry);
    if (!applied) return undefined;
    return { entry, applied, hash: this.stateHash(), result: JSON.stringify(applied.result) };
  }

  published(results: SimApplied[]): void {
    this.inner.published(results.map((r) => r.applied));
  }

  rolledBack(): void {
    this.inner.rolledBack();
  }

  snapshotData(): string {
    return this.inner.snapshotData();
  }

  /**
   * The rows the simulated commands can touch (kv, kv_tombstones) and the
   * applied index. Snapshots compare the whole state (checker.onSnapshot).
   */
  stateHash(): number {
    const rows = this.store.client.prepare("SELECT key, value, flags, create_index, modify_index FROM kv ORDER BY key").raw().all();
    const tomb = this.store.client.prepare("SELECT * FROM kv_tombstones ORDER BY key").raw().all();
    const applied = (this.store.client.prepare("SELECT value FROM meta WHERE key = 'applied_index'").get() as { value: string } | undefined)?.value;
    return fnv(`${applied}|${JSON.stringify(rows)}|${JSON.stringify(tomb)}`);
  }
}

export function fnv(s: string): number {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619) >>> 0;
  return x;
}
