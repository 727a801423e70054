// An agent's answer to GET /v1/node/{id}/allocations, from each allocation's
// JSON kept since the node's previous answer.
//
// An agent holds a blocking query on its node's allocations; each time one
// of them changes the leader answered with every allocation of the node, each
// read in full (group spec, task states) and serialized again: an agent with
// n allocations cost n full rows per change, n² over a placement burst. Now
// the leader reads the node's allocations as (id, job, modify index) only,
// reads in full and serializes just those whose modify index moved since it
// last answered for the node, and joins the kept JSON. The agent gets the same
// bytes as before (the array's JSON is its elements' JSON joined with commas);
// test/jobs/node-alloc-answers.test.ts compares them.
//
// Followed (on a node with replicated state): the (id, job, modify index)
// read of the node per answer was itself O(allocations on the node), 8–10 %
// of the leader's CPU in a placement burst. The state machine publishes what
// each entry changed — the allocations it wrote, the nodes that lost rows to
// a deletion (Fsm.onAllocChanges) — right after the entry commits, before
// any answer can read it; `changed` marks those allocations of kept nodes
// dirty, and the node's next answer reads just them. A node that lost rows
// to a deletion, or a restore, is read in full again. The kept allocations
// are listed in the read's order (create index, then id as SQLite compares
// text: by code point).
//
// Memory is bounded: at most `maxEntries` allocations' JSON are kept, the
// nodes answered least recently dropped first (their next answer reads in
// full, as every answer did before). An allocation deleted or moved away is
// dropped at the node's next answer.
import type { AllocRow } from "../store/schema-jobs.ts";
import type { AllocChange } from "../state/domains/node-usage.ts";

export interface AllocStamp {
  id: string;
  jobId: string;
  modifyIndex: number;
}

/** Where the rows come from (the state, read synchronously: one consistent answer). */
export interface NodeAllocSource {
  stamps(nodeId: string): AllocStamp[];
  /** Every allocation of the node, in the stamps' order. */
  rows(nodeId: string): AllocRow[];
  row(id: string): AllocRow | undefined;
  nodeName(nodeId: string): string | null;
  /** An allocation as the route shows it. */
  view(row: AllocRow, nodeName: string | null): unknown;
}

interface Entry {
  modifyIndex: number;
  createIndex: number;
  jobId: string;
  json: string;
}

interface NodeCache {
  /** The node's name the JSON was made with (each allocation names its node). */
  name: string | null;
  entries: Map<string, Entry>;
  /** The entries' ids in the answer's order; undefined once an id came or went. */
  order: string[] | undefined;
  /** Followed: allocations of the node written since its last answer. */
  dirty: Set<string>;
}

/** About 1–2 KB of JSON each: ≈ 100–200 MB at most, the allocations of a C1M-sized burst (100,000). */
export const DEFAULT_MAX_ENTRIES = 100_000;

/** SQLite's order of text (BINARY: UTF-8 bytes), which is code point order; JS's < compares UTF-16 units. */
function byCodePoint(a: string, b: string): number {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export class NodeAllocAnswers {
  /** Per node, its allocations' JSON; Map order = least recently answered first. */
  private nodes = new Map<string, NodeCache>();
  private entries = 0;
  /** Full rows read (tests, and to see the saving). */
  rowsRead = 0;
  /** Reads of a node's (id, job, modify index) list (tests: none for a followed, kept node). */
  stampReads = 0;

  /** `followed`: `changed` is told every change (else each answer reads the node's stamps). */
  constructor(private src: NodeAllocSource, private maxEntries = DEFAULT_MAX_ENTRIES, private followed = false) {}

  /** What an applied entry changed (Fsm.onAllocChanges), before any answer reads it. */
  changed(change: AllocChange | "reset"): void {
    if (change === "reset") {
      this.nodes.clear();
      this.entries = 0;
      return;
    }
    for (const w of change.written) this.nodes.get(w.nodeId)?.dirty.add(w.id);
    for (const nodeId of change.deletedOn) this.drop(nodeId);
  }

  /**
   * The node's allocations that `keep` keeps (an ACL scope), with each one's JSON, read and
   * serialized only where its modify index (or the node's name) changed since the last answer.
   */
  answer(nodeId: string, keep: (stamps: AllocStamp[]) => AllocStamp[] = (s) => s): { all: AllocStamp[]; kept: AllocStamp[]; parts: string[] } {
    const name = this.src.nodeName(nodeId);
    let cache = this.nodes.get(nodeId);
    if (cache) this.nodes.delete(nodeId); // re-inserted below: most recently answered
    const before = cache?.entries.size ?? 0;
    if (this.followed && cache && cache.name === name) this.readDirty(nodeId, cache);
    else cache = this.readStamps(nodeId, name, cache);
    const entries = cache.entries;
    cache.order ??= [...entries.keys()].sort((a, b) => {
      const x = entries.get(a)!;
      const y = entries.get(b)!;
      return x.createIndex - y.createIndex || byCodePoint(a, b);
    });
    const all = cache.order.map((id) => {
      const e = entries.get(id)!;
      return { id, jobId: e.jobId, modifyIndex: e.modifyIndex };
    });
    const kept = keep(all);
    const parts = kept.map((s) => entries.get(s.id)!.json);
    this.entries += entries.size - before;
    if (entries.size > 0) this.nodes.set(nodeId, cache);
    this.evict();
    return { all, kept, parts };
  }

  /** Allocations whose JSON is kept (tests; memory). */
  size(): number {
    return this.entries;
  }

  /** Followed: only the allocations written since the last answer are read. */
  private readDirty(nodeId: string, cache: NodeCache): void {
    for (const id of cache.dirty) {
      const row = this.src.row(id);
      if (!row || row.id !== id || row.nodeId !== nodeId) {
        if (cache.entries.delete(id)) cache.order = undefined;
        continue;
      }
      const e = cache.entries.get(id);
      if (e && e.modifyIndex === row.modifyIndex) continue;
      if (!e) cache.order = undefined;
      this.rowsRead++;
      cache.entries.set(id, { modifyIndex: row.modifyIndex, createIndex: row.createIndex, jobId: row.jobId, json: JSON.stringify(this.src.view(row, cache.name)) });
    }
    cache.dirty.clear();
  }

  /** The node's (id, job, modify index) list, then the stale ones read in full. */
  private readStamps(nodeId: string, name: string | null, old: NodeCache | undefined): NodeCache {
    this.stampReads++;
    const all = this.src.stamps(nodeId);
    const prev = old && old.name === name ? old.entries : undefined;
    const entries = new Map<string, Entry>();
    const stale: AllocStamp[] = [];
    for (const s of all) {
      const e = prev?.get(s.id);
      if (e && e.modifyIndex === s.modifyIndex) entries.set(s.id, e);
      else stale.push(s);
    }
    if (stale.length > 0) {
      // Most of them stale (a first answer): one read of the node beats one per allocation.
      const wholeNode = stale.length * 2 > all.length;
      const wanted = new Set(stale.map((s) => s.id));
      const rows = wholeNode ? this.src.rows(nodeId) : stale.map((s) => this.src.row(s.id)).filter((r): r is AllocRow => r !== undefined);
      for (const row of rows) {
        if (!wanted.has(row.id)) continue;
        this.rowsRead++;
        entries.set(row.id, { modifyIndex: row.modifyIndex, createIndex: row.createIndex, jobId: row.jobId, json: JSON.stringify(this.src.view(row, name)) });
      }
    }
    // The read's order: every stamp has its entry (rows are read in the same snapshot).
    return { name, entries, order: all.filter((s) => entries.has(s.id)).map((s) => s.id), dirty: new Set() };
  }

  private drop(nodeId: string): void {
    const cache = this.nodes.get(nodeId);
    if (!cache) return;
    this.nodes.delete(nodeId);
    this.entries -= cache.entries.size;
  }

  private evict(): void {
    for (const [nodeId, cache] of this.nodes) {
      if (this.entries <= this.maxEntries) return;
      this.nodes.delete(nodeId);
      this.entries -= cache.entries.size;
    }
  }
}
