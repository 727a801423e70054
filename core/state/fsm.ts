// The replicated state machine: the only code that writes cluster state.
// apply() runs one committed log entry inside the caller's transaction and
// records the applied index in the same transaction, so after a crash the
// state and the applied index always agree (an entry is applied exactly once).
import { eq, sql } from "drizzle-orm";
import type { Store } from "../store/db.ts";
import { meta } from "../store/schema.ts";
import { decodeCommand, type Command, type CommandResult } from "./commands.ts";
import { applyRegisterNode, applySetNodeStatus, applyDeregisterNode } from "./appliers/nodes.ts";

export interface AppliedEntry {
  index: number;
  command: Command;
  result: CommandResult;
}

export type AppliedListener = (entry: AppliedEntry) => void;

/** Which state tables a command touches: blocking queries wait on these. */
export function tablesTouched(cmd: Command): string[] {
  switch (cmd.type) {
    case "RegisterNode":
    case "SetNodeStatus":
    case "DeregisterNode":
      return ["nodes"];
    case "Noop":
      return [];
  }
}

export class Fsm {
  private applied: number;
  private listeners = new Set<AppliedListener>();
  /** Highest index that changed each table (for blocking queries and X-Consul-Index). */
  private tableIndexes = new Map<string, number>();

  constructor(private store: Store) {
    const row = store.db.select().from(meta).where(eq(meta.key, "applied_index")).get();
    this.applied = row ? Number(row.value) : 0;
  }

  appliedIndex(): number {
    return this.applied;
  }

  tableIndex(table: string): number {
    return this.tableIndexes.get(table) ?? this.applied;
  }

  onApplied(fn: AppliedListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Applies one entry. Must be called inside a store transaction, with
   * index === appliedIndex() + 1. Returns the applier's result; an applier
   * that refuses a command still advances the applied index (the refusal is
   * itself the deterministic outcome of that entry).
   */
  applyInTransaction(index: number, data: string | Command): AppliedEntry {
    if (index !== this.applied + 1) {
      throw new Error(`fsm: apply index ${index} out of order (applied ${this.applied})`);
    }
    const command = typeof data === "string" ? decodeCommand(data) : data;
    const result = this.dispatch(index, command);
    this.store.db
      .insert(meta)
      .values({ key: "applied_index", value: String(index) })
      .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } })
      .run();
    return { index, command, result };
  }

  /** Called after the transaction that applied `entry` committed. */
  published(entry: AppliedEntry): void {
    this.applied = entry.index;
    if (entry.result.ok) for (const t of tablesTouched(entry.command)) this.tableIndexes.set(t, entry.index);
    for (const fn of this.listeners) {
      try {
        fn(entry);
      } catch {
        // A listener's failure must not stop the state machine; listeners report their own errors.
      }
    }
  }

  private dispatch(index: number, cmd: Command): CommandResult {
    const db = this.store.db;
    switch (cmd.type) {
      case "RegisterNode":
        return applyRegisterNode(db, index, cmd);
      case "SetNodeStatus":
        return applySetNodeStatus(db, index, cmd);
      case "DeregisterNode":
        return applyDeregisterNode(db, index, cmd);
      case "Noop":
        return { ok: true };
      default: {
        const unknown = cmd as { type?: unknown };
        return { ok: false, code: "UNKNOWN_COMMAND", message: `unknown command type ${String(unknown.type)}` };
      }
    }
  }
}
