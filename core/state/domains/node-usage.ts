// Each node's live allocations as plan verification counts them (id,
// resources, ports), kept per database handle and followed entry by entry.
//
// Verifying a plan (plan.ts verifyPlacements) read every live allocation of
// each node it places on, from SQLite, for every plan: O(allocations on the
// node) rows per node per plan (docs/scale.md, "Fourth round"). Now a node's
// rows are read once, then kept up to date from what each applied entry
// changed: every write to an allocation stamps the row with the entry's
// index, and every deletion records the entry's index under the node
// (alloc-nodes-changed.ts; the facts agents' wakeups and answers rely on).
// After each entry that touches allocations the Fsm calls followEntry inside
// the entry's transaction: the rows stamped with its index are read (what
// changed, not the node's size) and replace their kept versions — a row no
// longer live leaves — and a node that lost rows to a deletion is read again
// in full when next asked. A restore, a rolled-back transaction or a failed
// applier forgets every node. So liveUsageRows returns what a fresh read
// returns at this point of the log (test/state/node-usage.test.ts compares
// them after random sequences): every replica verifies every plan against
// the same rows, kept or not, and a plan is refused exactly as before.
//
// An allocation never changes node (placements are immutable; a move is a
// new allocation), so a changed row only ever updates its own node's list.
import { eq, sql } from "drizzle-orm";
import { clientOf, type Db } from "../../store/db.ts";
import { preparedQuery } from "../../store/prepared.ts";
import { allocations } from "../../store/schema-jobs.ts";
import { liveUsageOnNode } from "./jobs-prepared.ts";

export type UsageRow = ReturnType<ReturnType<typeof liveUsageOnNode>["all"]>[number];

/** Nodes kept per handle; past it all are forgotten (read again on their next plan). */
const MAX_NODES = 50_000;

/** Every allocation an entry wrote, with what decides whether and how it counts. */
const allocsWrittenAt = preparedQuery((db) =>
  db.select({
    id: allocations.id, nodeId: allocations.nodeId, resources: allocations.resources, ports: allocations.ports,
    desiredStatus: allocations.desiredStatus, clientStatus: allocations.clientStatus,
  }).from(allocations).where(eq(allocations.modifyIndex, sql.placeholder("index"))).prepare());

const perDb = new WeakMap<Db, Map<string, Map<string, UsageRow>>>();

function keptOf(db: Db): Map<string, Map<string, UsageRow>> {
  let kept = perDb.get(db);
  if (!kept) perDb.set(db, (kept = new Map()));
  return kept;
}

/** The node's live allocations (desired run, client pending or running), as liveUsageOnNode reads them (any order). Do not modify. */
export function liveUsageRows(db: Db, nodeId: string): Iterable<UsageRow> {
  if (notKept.has(db)) return liveUsageOnNode(db).all({ nodeId });
  const kept = keptOf(db);
  let rows = kept.get(nodeId);
  if (!rows) {
    if (kept.size >= MAX_NODES) kept.clear();
    rows = new Map(liveUsageOnNode(db).all({ nodeId }).map((r) => [r.id, r]));
    kept.set(nodeId, rows);
  }
  return rows.values();
}

/** What one entry changed in the allocations: the rows it wrote (id and node), the nodes that lost rows to it. */
export interface AllocChange {
  index: number;
  written: { id: string; nodeId: string }[];
  deletedOn: string[];
}

/**
 * Entry `index` was applied (inside its transaction): the kept nodes follow the rows it wrote,
 * and a node that lost rows to it is forgotten. Returns what it changed.
 */
export function followEntry(db: Db, index: number): AllocChange {
  const kept = perDb.get(db);
  const written: AllocChange["written"] = [];
  for (const r of allocsWrittenAt(db).all({ index })) {
    written.push({ id: r.id, nodeId: r.nodeId });
    const rows = kept?.get(r.nodeId);
    if (!rows) continue;
    if (r.desiredStatus === "run" && (r.clientStatus === "pending" || r.clientStatus === "running")) {
      rows.set(r.id, { id: r.id, resources: r.resources, ports: r.ports });
    } else {
      rows.delete(r.id);
    }
  }
  const deleted = clientOf(db).prepare("SELECT node_id AS n FROM node_alloc_deletions WHERE delete_index = ?").all(index) as { n: string }[];
  for (const { n } of deleted) kept?.delete(n);
  return { index, written, deletedOn: deleted.map((d) => d.n) };
}

/** The nodes whose allocations a change touched. */
export function changedNodes(c: AllocChange): string[] {
  return [...new Set([...c.written.map((w) => w.nodeId), ...c.deletedOn])];
}

/** The whole state may have changed (a restore, a rollback, a failed applier): read every node again. */
export function forgetAllNodeUsage(db: Db): void {
  perDb.get(db)?.clear();
}

const notKept = new WeakSet<Db>();

/** Tests: this handle reads every node afresh for every plan, as before (the twin a kept handle is compared with). */
export function readUsageAfresh(db: Db): void {
  notKept.add(db);
  forgetAllNodeUsage(db);
}

/** Nodes kept (tests). */
export function keptNodeUsage(db: Db): number {
  return perDb.get(db)?.size ?? 0;
}
