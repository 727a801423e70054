// core/state's FSM as the Raft driver's state machine (core/raft/driver.ts):
// restore a snapshot's dump, apply committed entries in the driver's
// transaction, publish them once it commits. Used by every real node and by
// the simulator (test/sim), so both run the same appliers.
import type { DriverStateMachine, Entry, Snapshot } from "../../raft/index.ts";
import { setMeta, type Store } from "../../store/db.ts";
import type { AppliedEntry, Fsm } from "../../state/fsm.ts";
import { decodeDump, dumpState, encodeDump, restoreState } from "../../state/snapshot.ts";

/** What "noop" and "conf" entries apply as: they only move the applied index. */
const NOOP = { type: "Noop", v: 1, at: 0 } as const;

export class FsmStateMachine implements DriverStateMachine<AppliedEntry> {
  constructor(
    private readonly store: Store,
    private readonly fsm: Fsm,
  ) {}

  restore(snap: Snapshot): void {
    restoreState(this.store, decodeDump(snap.data, this.store));
    setMeta(this.store.client, "applied_index", String(snap.index));
    this.fsm.restoredTo(snap.index);
  }

  apply(e: Entry): AppliedEntry | undefined {
    // Entries at or below the applied index were applied before a restart.
    if (e.index <= this.fsm.applyingIndex()) return undefined;
    return this.fsm.applyInTransaction(e.index, e.type === "normal" ? e.data : NOOP);
  }

  published(results: AppliedEntry[]): void {
    for (const a of results) this.fsm.published(a);
  }

  rolledBack(): void {
    this.fsm.rollback();
  }

  snapshotData(): string {
    return encodeDump(dumpState(this.store));
  }
}
