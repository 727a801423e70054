// The replicated state machine: the only code that writes cluster state.
// applyInTransaction() runs one committed log entry inside the caller's
// transaction and records the applied index in the same transaction, so
// after a crash the state and the applied index always agree (an entry is
// applied exactly once).
import { eq } from "drizzle-orm";
import { setMeta, type Store } from "../store/db.ts";
import { meta } from "../store/schema.ts";
import { decodeCommand, type Command, type CommandResult } from "./commands.ts";
import { NewerFormatError, newerFormatProblem } from "./command-versions.ts";
import { applierFor, allTables, tablesOf } from "./appliers.ts";
import { IndexWatch } from "./watch.ts";
import { allocNodesChangedAt } from "./alloc-nodes-changed.ts";
import { kvKeysChangedAt } from "./kv-keys-changed.ts";
import { SERVICE_KEYED_TABLES, serviceNamesChangedAt } from "./service-names-changed.ts";
import { applyFailedResult, isStorageFailure } from "./apply-failure.ts";
import { changedNodes, followEntry, forgetAllNodeUsage, type AllocChange } from "./domains/node-usage.ts";

export type AllocChangeListener = (change: AllocChange | "reset") => void;

/** Entries applied and not yet published whose changes are kept (a seeding tool publishes none). */
const MAX_UNPUBLISHED = 100_000;

export interface AppliedEntry {
  index: number;
  command: Command;
  result: CommandResult;
}

export type AppliedListener = (entry: AppliedEntry) => void;

export class Fsm {
  private applied: number;
  /** Index of the last entry applied in the open transaction (== applied outside one). */
  private applying: number;
  private listeners = new Set<AppliedListener>();
  /** Highest index that changed each table (blocking queries, X-Consul-Index). */
  private tableIndexes = new Map<string, number>();
  readonly watch = new IndexWatch();
  /** Per entry applied and not yet published: what it changed in the allocations (allocationsChanged); "reset": anything. */
  private allocChanges = new Map<number, AllocChange | "reset">();
  private allocChangesLost = false;
  private allocListeners = new Set<AllocChangeListener>();

  constructor(private store: Store) {
    const row = store.db.select().from(meta).where(eq(meta.key, "applied_index")).get();
    this.applied = row ? Number(row.value) : 0;
    this.applying = this.applied;
  }

  /** The last index applied, counting entries of a transaction not yet committed. */
  applyingIndex(): number {
    return this.applying;
  }

  /** The transaction that applied entries rolled back: forget them. */
  rollback(): void {
    this.applying = this.applied;
    // What was kept may have been read from the rolled-back entries' rows.
    forgetAllNodeUsage(this.store.db);
    this.allocChanges.clear();
  }

  /** A snapshot replaced the whole state (inside the open transaction). */
  restoredTo(index: number): void {
    forgetAllNodeUsage(this.store.db);
    this.allocChanges.clear();
    // Now, not at the next publish: the waiters woken below answer from the restored rows.
    this.publishAllocChange("reset");
    this.applied = this.applying = index;
    this.tableIndexes.clear();
    this.watch.notify(allTables());
  }

  appliedIndex(): number {
    return this.applied;
  }

  /**
   * Highest index that changed `table` since this process started, else the
   * applied index: never too low, so a client never misses a change.
   */
  tableIndex(table: string): number {
    return this.tableIndexes.get(table) ?? this.applied;
  }

  /**
   * What each published entry changed in the allocations (the rows it wrote, the nodes that
   * lost rows), in log order, right after its commit; "reset" when anything may have changed
   * (a restore): a reader keeping allocations starts over.
   */
  onAllocChanges(fn: AllocChangeListener): () => void {
    this.allocListeners.add(fn);
    return () => this.allocListeners.delete(fn);
  }

  private publishAllocChange(change: AllocChange | "reset" | undefined): void {
    if (change === undefined) return;
    for (const fn of this.allocListeners) {
      try {
        fn(change);
      } catch {
        // A follower's failure must not stop the state machine.
      }
    }
  }

  onApplied(fn: AppliedListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Applies one entry. Must be called inside a store transaction, with
   * index === appliedIndex() + 1; call published() once it commits. An
   * applier that refuses a command still advances the applied index (the
   * refusal is itself the deterministic outcome of that entry).
   */
  applyInTransaction(index: number, data: string | Command): AppliedEntry {
    if (index !== this.applying + 1) {
      throw new Error(`fsm: apply index ${index} out of order (applied ${this.applying})`);
    }
    this.applying = index;
    let command: Command;
    try {
      command = typeof data === "string" ? decodeCommand(data) : data;
    } catch (err) {
      // An entry that is not even JSON fails the same way everywhere: a refusal, not a wedge.
      setMeta(this.store.client, "applied_index", String(index));
      return { index, command: { type: "Noop", v: 1, at: 0 } as Command, result: applyFailedResult(err) };
    }
    // An entry from a newer release: stop rather than diverge (command-versions.ts).
    const newer = newerFormatProblem(index, command);
    if (newer) throw new NewerFormatError(newer);
    const applier = applierFor(command);
    let threw = false;
    const result: CommandResult = applier
      ? this.applyOrRefuse(() => applier.apply(this.store.db, index, command as never), () => (threw = true))
      : { ok: false, code: "UNKNOWN_COMMAND", message: `unknown command type ${String((command as { type?: unknown }).type)}` };
    if (applier) this.allocationsChanged(index, applier, threw);
    setMeta(this.store.client, "applied_index", String(index));
    return { index, command, result };
  }

  /**
   * What entry `index` changed in the allocations, read inside its transaction: the usage
   * kept for plan verification follows it now (node-usage.ts: the next entry of the same
   * transaction may verify a plan on those nodes), and the nodes it names wake their agents
   * once the entry is published (a superset of a read after commit: a row a later entry
   * of the same commit rewrote is still named; waking one more waiter is harmless).
   */
  private allocationsChanged(index: number, applier: { tables: readonly string[]; namesNoKeys?: boolean }, threw: boolean): void {
    const db = this.store.db;
    if (applier.tables.includes("*") || threw) {
      // A restore rewrote every table; a failed applier was rolled back to a savepoint,
      // after it may have read rows it had itself written.
      forgetAllNodeUsage(db);
      this.allocChanges.set(index, "reset");
      return;
    }
    // Every entry, not only those whose applier lists the allocations table: a kept row
    // gone stale would change a plan's verdict. Two index lookups that find nothing.
    const change = followEntry(db, index);
    if (change.written.length === 0 && change.deletedOn.length === 0) return;
    if (this.allocChanges.size >= MAX_UNPUBLISHED) {
      // Nobody publishes (a seeding tool applying without a Raft driver): followers start over.
      this.allocChanges.clear();
      this.allocChangesLost = true;
    }
    this.allocChanges.set(index, change);
  }

  /**
   * Runs an applier in a savepoint. A deterministic failure (a constraint, a
   * bad value, an applier bug) rolls back what it did and becomes the
   * entry's refusal on every replica, so no entry can wedge the log; a
   * storage failure (disk, I/O, lock) is rethrown and stops the node
   * (core/state/apply-failure.ts).
   */
  private applyOrRefuse(apply: () => CommandResult, failed: () => void): CommandResult {
    try {
      return this.store.client.transaction(apply)();
    } catch (err) {
      failed();
      if (isStorageFailure(err)) throw err;
      return applyFailedResult(err);
    }
  }

  /** Called after the transaction that applied `entry` committed. */
  published(entry: AppliedEntry): void {
    this.applied = entry.index;
    const change = this.allocChanges.get(entry.index);
    this.allocChanges.delete(entry.index);
    const lost = this.allocChangesLost;
    this.allocChangesLost = false;
    this.publishAllocChange(lost ? "reset" : change);
    const tables = entry.result.ok ? tablesOf(entry.command) : [];
    for (const t of tables) this.tableIndexes.set(t, entry.index);
    // Agents block on their own node's allocations: wake only the nodes this entry changed.
    // A restore ("*") keeps the rows' own indexes, and a tombstone reap moves a floor: they name no keys and wake every waiter.
    const applier = applierFor(entry.command);
    const namesNoKeys = (applier?.tables.includes("*") || applier?.namesNoKeys) ?? false;
    // KV reads wait on their key or prefix: wake only those the entry's keys fall under (kv-keys-changed.ts).
    let keyed: Map<string, string[]> | undefined;
    if (!namesNoKeys) {
      if (tables.includes("allocations") && this.watch.hasKeyedWaiters("allocations")) {
        (keyed ??= new Map()).set("allocations", change === undefined && !lost ? [] : change === undefined || change === "reset" ? allocNodesChangedAt(this.store.db, entry.index) : changedNodes(change));
      }
      if (tables.includes("kv") && this.watch.hasKeyedWaiters("kv")) (keyed ??= new Map()).set("kv", kvKeysChangedAt(this.store.db, entry.index));
      // Health reads wait on their service's name in each catalog table they read (service-names-changed.ts).
      const catalog = SERVICE_KEYED_TABLES.filter((t) => tables.includes(t));
      if (catalog.some((t) => this.watch.hasKeyedWaiters(t))) {
        const names = serviceNamesChangedAt(this.store.db, entry.index);
        for (const t of catalog) (keyed ??= new Map()).set(t, names);
      }
    }
    this.watch.notify(tables, keyed);
    for (const fn of this.listeners) {
      try {
        fn(entry);
      } catch {
        // A listener's failure must not stop the state machine; listeners report their own errors.
      }
    }
  }

}
