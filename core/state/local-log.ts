// The single-leader replicator: this node orders every command itself.
// Append and apply happen in one SQLite transaction, so a command that got
// an answer is durable (WAL) and a crash never leaves a logged-but-unapplied
// or applied-but-unlogged entry.
import { desc, lt } from "drizzle-orm";
import type { Store } from "../store/db.ts";
import { log } from "../store/schema.ts";
import { Command, encodeCommand } from "./commands.ts";
import type { Fsm } from "./fsm.ts";
import { ReplicationError, type ProposeOutcome, type Replicator, type ReplicationStatus } from "./replicator.ts";

export interface LocalLogOptions {
  /** Address others use to reach this node, reported as the leader. */
  selfAddress: string;
  /** Log entries kept behind the applied index (older ones are deleted). */
  retainEntries?: number;
}

export class LocalLog implements Replicator {
  private closed = false;
  private readonly retain: number;
  private sinceCompaction = 0;

  constructor(
    private store: Store,
    private fsm: Fsm,
    private opts: LocalLogOptions,
  ) {
    this.retain = opts.retainEntries ?? 10_000;
    // Entries logged but not applied cannot exist in this mode (one transaction),
    // but a log written by a Raft-mode node can have them: replay them now.
    this.replayUnapplied();
  }

  async propose(command: Command): Promise<ProposeOutcome> {
    if (this.closed) throw new ReplicationError("SHUTTING_DOWN", "node is shutting down");
    const parsed = Command.safeParse(command);
    if (!parsed.success) {
      throw new ReplicationError("INVALID_COMMAND", `invalid command: ${parsed.error.issues[0]?.message ?? "?"}`);
    }
    const data = encodeCommand(parsed.data);
    const entry = this.store.transaction(() => {
      const index = this.fsm.appliedIndex() + 1;
      this.store.db.insert(log).values({ idx: index, term: 1, kind: "cmd", data }).run();
      return this.fsm.applyInTransaction(index, parsed.data);
    });
    this.fsm.published(entry);
    if (++this.sinceCompaction >= 1000) this.compact();
    return { index: entry.index, result: entry.result };
  }

  status(): ReplicationStatus {
    const applied = this.fsm.appliedIndex();
    return {
      isLeader: true,
      leader: this.opts.selfAddress,
      term: 1,
      commitIndex: applied,
      appliedIndex: applied,
      lastContactMs: 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private replayUnapplied(): void {
    const last = this.store.db.select({ idx: log.idx }).from(log).orderBy(desc(log.idx)).limit(1).get();
    for (let i = this.fsm.appliedIndex() + 1; last && i <= last.idx; i++) {
      const row = this.store.client.prepare("SELECT data, kind FROM log WHERE idx = ?").get(i) as
        | { data: string; kind: string }
        | undefined;
      if (!row) throw new Error(`state: log entry ${i} missing below last index ${last.idx}`);
      const entry = this.store.transaction(() =>
        this.fsm.applyInTransaction(i, row.kind === "cmd" ? row.data : { type: "Noop", v: 1, at: 0 }),
      );
      this.fsm.published(entry);
    }
  }

  /** Keeps the log bounded: the state tables, not the log, are the record. */
  private compact(): void {
    this.sinceCompaction = 0;
    const keepFrom = this.fsm.appliedIndex() - this.retain;
    if (keepFrom > 0) this.store.db.delete(log).where(lt(log.idx, keepFrom)).run();
  }
}
