// What the event stream reads: the applied entries as they are published,
// and the committed part of the `log` table for replay. An interface, so
// the stream's seam logic is tested against an in-memory log too.
import type { Store } from "../store/db.ts";
import type { AppliedEntry, Fsm } from "../state/fsm.ts";
import { decodeCommand, type Command } from "../state/commands.ts";

export interface LoggedEntry {
  index: number;
  /** undefined for Raft's own entries (election no-ops, configuration changes): they carry no command. */
  command: Command | undefined;
}

export interface LogSource {
  /** Last applied index. Every entry at or below it is in the log unless compacted. */
  appliedIndex(): number;
  /** Highest index compacted into the snapshot (0: none): entries at or below it are gone. */
  compactedIndex(): number;
  /** Applied entries with after < index <= upTo, oldest first, at most `limit`. */
  entries(after: number, upTo: number, limit: number): LoggedEntry[];
  /** Called after each entry is applied and committed, in index order. */
  onApplied(fn: (entry: AppliedEntry) => void): () => void;
}

export function storeLogSource(store: Store, fsm: Fsm): LogSource {
  const page = store.client.prepare("SELECT idx, kind, data FROM log WHERE idx > ? AND idx <= ? ORDER BY idx LIMIT ?");
  const snapshot = store.client.prepare("SELECT idx FROM raft_snapshot WHERE id = 1");
  return {
    appliedIndex: () => fsm.appliedIndex(),
    compactedIndex: () => (snapshot.get() as { idx: number } | undefined)?.idx ?? 0,
    entries(after, upTo, limit) {
      const rows = page.all(after, upTo, limit) as { idx: number; kind: string; data: string }[];
      return rows.map((r) => ({ index: r.idx, command: decodeRow(r.kind, r.data) }));
    },
    onApplied: (fn) => fsm.onApplied(fn),
  };
}

/** "normal" is a Raft entry carrying a command; "cmd" is the same from the single-leader log that came first. */
function decodeRow(kind: string, data: string): Command | undefined {
  if (kind !== "normal" && kind !== "cmd") return undefined;
  try {
    return decodeCommand(data);
  } catch {
    return undefined; // not ours to judge here: the FSM applied it; the stream skips what it cannot read
  }
}
