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
// Memory is bounded: at most `maxEntries` allocations' JSON are kept, the
// nodes answered least recently dropped first (their next answer reads in
// full, as every answer did before). An allocation deleted or moved away is
// dropped at the node's next answer.
import type { AllocRow } from "../store/schema-jobs.ts";

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
  nodeName: string | null;
  json: string;
}

/** About 1–2 KB of JSON each: ≈ 100–200 MB at most, the allocations of a C1M-sized burst (100,000). */
export const DEFAULT_MAX_ENTRIES = 100_000;

export class NodeAllocAnswers {
  /** Per node, its allocations' JSON; Map order = least recently answered first. */
  private nodes = new Map<string, Map<string, Entry>>();
  private entries = 0;
  /** Full rows read (tests, and to see the saving). */
  rowsRead = 0;

  constructor(private src: NodeAllocSource, private maxEntries = DEFAULT_MAX_ENTRIES) {}

  /**
   * The node's allocations that `keep` keeps (an ACL scope), with each one's JSON, read and
   * serialized only where its modify index (or the node's name) changed since the last answer.
   */
  answer(nodeId: string, keep: (stamps: AllocStamp[]) => AllocStamp[] = (s) => s): { all: AllocStamp[]; kept: AllocStamp[]; parts: string[] } {
    const all = this.src.stamps(nodeId);
    const name = this.src.nodeName(nodeId);
    let cache = this.nodes.get(nodeId);
    if (cache) this.nodes.delete(nodeId); // re-inserted below: most recently answered
    else cache = new Map();
    const before = cache.size;
    const stale = all.filter((s) => {
      const e = cache.get(s.id);
      return !e || e.modifyIndex !== s.modifyIndex || e.nodeName !== name;
    });
    if (stale.length > 0) {
      // Most of them stale (a first answer): one read of the node beats one per allocation.
      const rows = stale.length * 2 > all.length ? this.src.rows(nodeId) : stale.map((s) => this.src.row(s.id)).filter((r): r is AllocRow => r !== undefined);
      const wanted = stale.length * 2 > all.length ? undefined : new Set(stale.map((s) => s.id));
      for (const row of rows) {
        if (wanted && !wanted.has(row.id)) continue;
        const e = cache.get(row.id);
        if (e && e.modifyIndex === row.modifyIndex && e.nodeName === name) continue;
        this.rowsRead++;
        cache.set(row.id, { modifyIndex: row.modifyIndex, nodeName: name, json: JSON.stringify(this.src.view(row, name)) });
      }
    }
    if (cache.size > all.length) {
      const ids = new Set(all.map((s) => s.id));
      for (const id of cache.keys()) if (!ids.has(id)) cache.delete(id);
    }
    const kept = keep(all);
    const parts = kept.map((s) => cache.get(s.id)!.json);
    this.entries += cache.size - before;
    if (cache.size > 0) this.nodes.set(nodeId, cache);
    this.evict();
    return { all, kept, parts };
  }

  /** Allocations whose JSON is kept (tests; memory). */
  size(): number {
    return this.entries;
  }

  private evict(): void {
    for (const [nodeId, cache] of this.nodes) {
      if (this.entries <= this.maxEntries) return;
      this.nodes.delete(nodeId);
      this.entries -= cache.size;
    }
  }
}
