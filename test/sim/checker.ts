// Cross-replica safety checks, run after every simulated step (Raft paper
// Figure 3). Each check records the first violation; the simulator stops and
// prints the seed.
//  - Election Safety: at most one leader per term.
//  - Leader Append-Only: a leader never overwrites or deletes its entries.
//  - Log Matching: two logs with an entry of the same index and term agree
//    on it and on everything before it. Checked incrementally: every
//    (index, term) ever persisted must always carry the same data and follow
//    the same previous term, which by induction gives identical prefixes.
//  - Leader Completeness: a leader of term T holds every entry that was
//    committed in an earlier term.
//  - State Machine Safety: no two nodes apply different entries at one
//    index; their state hashes agree after each index; snapshots agree.
//  - Committed entries never change: no node persists a different entry at
//    an index it knows to be committed, and every applied entry matches.
import type { Entry, RaftNode, Snapshot } from "../../core/raft/index.ts";

/** A server's log as the election rule sees it (§5.4.1). */
export interface LogView {
  id: string;
  lastIndex: number;
  lastTerm: number;
  /** Holds the entry (index, term), or a snapshot covering it. */
  has(index: number, term: number): boolean;
}

/** Whether voter `v` would grant `n` its vote on the log rule (§5.4.1). */
function upToDate(n: LogView, v: LogView): boolean {
  return n.lastTerm > v.lastTerm || (n.lastTerm === v.lastTerm && n.lastIndex >= v.lastIndex);
}

interface CommittedEntry {
  term: number;
  type: string;
  data: string;
  hash: number;
  /** The applier's outcome (JSON), when the caller reports it. */
  result?: string;
  /** Lowest term of a node seen applying it: an upper bound of the term it was committed in. */
  obsTerm: number;
}

export class SafetyChecker {
  violation: string | undefined;
  private leaderOfTerm = new Map<number, string>();
  private leaderLog = new Map<string, { term: number; lastIndex: number; lastTerm: number | undefined }>();
  private seenEntry = new Map<string, { type: string; data: string; prevTerm: number | undefined }>();
  readonly committed = new Map<number, CommittedEntry>();
  maxCommitted = 0;

  private fail(msg: string): void {
    this.violation ??= msg;
  }

  /** After any step of `node`: election safety, append-only, completeness. */
  observe(id: string, node: RaftNode): void {
    const st = node.status();
    if (st.role !== "leader") {
      this.leaderLog.delete(id);
      return;
    }
    const prev = this.leaderOfTerm.get(st.term);
    if (prev !== undefined && prev !== id) return this.fail(`Election Safety: ${prev} and ${id} both leaders of term ${st.term}`);
    this.leaderOfTerm.set(st.term, id);
    const known = this.leaderLog.get(id);
    if (!known || known.term !== st.term) {
      this.checkCompleteness(id, node, st.term, st.snapshotIndex, st.lastIndex);
    } else {
      if (st.lastIndex < known.lastIndex) return this.fail(`Leader Append-Only: ${id} (term ${st.term}) log shrank ${known.lastIndex} -> ${st.lastIndex}`);
      const t = node.termAt(known.lastIndex);
      if (t !== undefined && known.lastTerm !== undefined && t !== known.lastTerm)
        return this.fail(`Leader Append-Only: ${id} (term ${st.term}) entry ${known.lastIndex} changed term ${known.lastTerm} -> ${t}`);
    }
    this.leaderLog.set(id, { term: st.term, lastIndex: st.lastIndex, lastTerm: node.termAt(st.lastIndex) });
  }

  private checkCompleteness(id: string, node: RaftNode, term: number, snapshotIndex: number, lastIndex: number): void {
    for (const [index, c] of this.committed) {
      if (c.obsTerm >= term || index <= snapshotIndex) continue;
      const t = index <= lastIndex ? node.termAt(index) : undefined;
      if (t !== c.term) return this.fail(`Leader Completeness: ${id} leads term ${term} without committed entry ${index} (term ${c.term}), has ${t}`);
    }
  }

  /**
   * Before `entries` are persisted by `id` (whose storage gives the previous
   * term), with `commit` the commit index persisted alongside. A lagging node
   * may legitimately store an old leader's entry at an index committed
   * elsewhere (it has not learnt otherwise yet), but never one it itself
   * considers committed.
   */
  onPersist(id: string, entries: Entry[], prevTermOfFirst: number | undefined, commit: number): void {
    let prevTerm = prevTermOfFirst;
    for (const e of entries) {
      const c = this.committed.get(e.index);
      if (c && e.index <= commit && (c.term !== e.term || c.data !== e.data))
        return this.fail(`committed entry changed: ${id} persists (${e.index}, term ${e.term}) with commit ${commit} over committed term ${c.term}`);
      const key = `${e.index}/${e.term}`;
      const seen = this.seenEntry.get(key);
      if (!seen) this.seenEntry.set(key, { type: e.type, data: e.data, prevTerm });
      else if (seen.type !== e.type || seen.data !== e.data)
        return this.fail(`Log Matching: two different entries at index ${e.index} term ${e.term} (${id})`);
      else if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm)
        return this.fail(`Log Matching: entry ${e.index} term ${e.term} follows term ${prevTerm} on ${id} but ${seen.prevTerm} elsewhere`);
      prevTerm = e.term;
    }
  }

  /** `id` (in `term`) applied `e`, reaching state `hash`, with the applier's outcome `result`. */
  onApply(id: string, e: Entry, hash: number, term: number, result?: string): void {
    const c = this.committed.get(e.index);
    if (!c) {
      this.committed.set(e.index, { term: e.term, type: e.type, data: e.data, hash, result, obsTerm: term });
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
      return;
    }
    if (c.term !== e.term || c.data !== e.data || c.type !== e.type)
      return this.fail(`State Machine Safety: ${id} applied (${e.index}, term ${e.term}) but another node applied term ${c.term} there`);
    if (c.hash !== hash) return this.fail(`State Machine Safety: ${id} state hash differs after index ${e.index}`);
    if (c.result !== undefined && result !== undefined && c.result !== result)
      return this.fail(`State Machine Safety: ${id} got outcome ${result} for index ${e.index}, another node ${c.result}`);
    if (term < c.obsTerm) c.obsTerm = term;
  }

  /**
   * Raft's safety argument, checked directly (§5.4.3): once (index, term) is
   * committed, no server lacking it can win an election, because a majority
   * holds it and none of them votes for a log less up-to-date than its own.
   * So: no server without the entry may have a log that a majority of the
   * voters would vote for. Figure 8's bug (an earlier term's entry committed
   * by counting replicas) breaks this at the moment of the commit, long
   * before some later election happens to exploit it. `logs` are every
   * server's log as it would campaign and vote now (disk for crashed ones),
   * restricted by the caller to the servers of the committed configuration.
   */
  checkElectable(index: number, term: number, logs: LogView[]): void {
    for (const n of logs) {
      if (n.has(index, term)) continue;
      const grants = logs.filter((v) => v.id === n.id || upToDate(n, v)).length;
      if (grants * 2 > logs.length)
        return this.fail(
          `Leader Completeness: committed entry ${index} (term ${term}) is missing on ${n.id} (last ${n.lastIndex}/t${n.lastTerm}), ` +
            `which ${grants} of ${logs.length} voters would elect`,
        );
    }
  }

  /** Snapshot data by index, from the first node that took one there (whole-state comparison). */
  private snapshots = new Map<number, { id: string; data: string }>();

  /** `id` compacted at snap.index: its whole state (the dump) must equal every other replica's there. */
  onSnapshot(id: string, snap: Snapshot): void {
    const seen = this.snapshots.get(snap.index);
    if (!seen) this.snapshots.set(snap.index, { id, data: snap.data });
    else if (seen.data !== snap.data) this.fail(`State Machine Safety: ${id} and ${seen.id} hold different states at index ${snap.index} (snapshot dumps differ)`);
  }

  /** `id` restored `snap`, giving state `hash`. */
  onRestore(id: string, snap: Snapshot, hash: number): void {
    const c = this.committed.get(snap.index);
    if (c && (c.term !== snap.term || c.hash !== hash))
      this.fail(`State Machine Safety: ${id} restored a snapshot at ${snap.index} that disagrees with applied state`);
  }
}
