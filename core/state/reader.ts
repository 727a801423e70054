// Read-only access to replicated state for HTTP handlers and plugins.
import { asc } from "drizzle-orm";
import type { Store } from "../store/db.ts";
import { nodes, type NodeRow } from "../store/schema.ts";
import type { AllocChangeListener, Fsm } from "./fsm.ts";
import { kvGet, kvList, kvPrefixIndex, type KvEntry } from "./domains/kv.ts";
import { kvTombstonesUpTo } from "./domains/kv-tombstones.ts";
import { catalogTombstonesUpTo } from "./domains/catalog-tombstones.ts";
import { variableTombstonesUpTo } from "./domains/variable-tombstones.ts";
import { createCatalogReader, emptyCatalogReader, type CatalogReader } from "./domains/catalog-read.ts";
import { IndexMemo } from "./index-memo.ts";
import { blockingQuery, IndexWatch, type WatchTopic } from "./watch.ts";
import { createJobsReader, emptyJobsReader, type JobsReader } from "./domains/jobs-read.ts";
import { createAclReader, emptyAclReader, type AclReader } from "./domains/acl-read.ts";
import { getSession, listSessions, lockDelayUntil } from "./domains/sessions.ts";
import type { SessionRow } from "../store/schema.ts";
import { createListScans, emptyListScans, type ListScans } from "./domains/list-scan.ts";
import { createSummaryCounts, emptySummaryCounts, type SummaryCounts } from "./domains/summary-counts.ts";
import { nodeById, nodeByName } from "./domains/jobs-prepared.ts";

/** Consul sessions (core/state/domains/sessions.ts). */
export interface SessionsReader {
  get(id: string): SessionRow | undefined;
  /** Every session, or a node's (by name, case-insensitive). */
  list(node?: string): SessionRow[];
  /** When a key's lock-delay ends (ms since the epoch), 0 when none. */
  lockDelayUntil(key: string): number;
}

export interface StateReader {
  /** Index of the last applied command (X-Corral-Index). */
  appliedIndex(): number;
  /** Highest index that changed `table` (never 0: Consul clients treat 0 as "no index"). */
  tableIndex(table: string): number;
  listNodes(): NodeRow[];
  getNode(idOrName: string): NodeRow | undefined;
  /** A node's status and name by id: the heartbeat hot path (one cached statement, no JSON columns to parse). */
  nodeStatus(id: string): NodeStatusRow | undefined;
  /** Every node's id, name and status (the down-detector's sweep), as cheaply. */
  nodeStatuses(): (NodeStatusRow & { id: string })[];
  kvGet(key: string): KvEntry | undefined;
  kvList(prefix: string): KvEntry[];
  /** Highest index under `prefix`; with `visible`, of the keys it accepts only. */
  kvPrefixIndex(prefix: string, visible?: (key: string) => boolean): number;
  /** KV tombstones deleted at or before `index` (the collector's reap). */
  kvTombstonesUpTo(index: number): number;
  /** Catalog tombstones deleted at or before `index` (domains/catalog-tombstones.ts). */
  catalogTombstonesUpTo(index: number): number;
  /** Variable tombstones deleted at or before `index` (domains/variable-tombstones.ts). */
  variableTombstonesUpTo(index: number): number;
  /** The service catalog (discovery plugin, DNS): each query with its blocking index. */
  catalog: CatalogReader;
  /** Jobs, evaluations, allocations, deployments, drains (scheduling loop, API, agents). */
  jobs: JobsReader;
  /** ACL tokens and policies, intentions, the audit log (core/acl, plugins/authz). */
  acl: AclReader;
  sessions: SessionsReader;
  /** Keyset scans of the paged lists (jobs, allocations, evaluations, deployments, nodes, variables). */
  lists: ListScans;
  /** Jobs, nodes and allocations counted by status without reading them (GET /v1/summary). */
  counts: SummaryCounts;
  /**
   * What each applied entry changed in the allocations, right after it commits, in log order
   * (Fsm.onAllocChanges); absent where there is no replicated state (an agent).
   */
  onAllocChanges?(fn: AllocChangeListener): () => void;
  /** Evaluate `read` now, or wait (up to waitMs) until its index passes minIndex. */
  blocking<T>(
    opts: { tables: readonly WatchTopic[]; minIndex: number; waitMs: number; signal?: AbortSignal },
    read: () => { index: number; value: T },
  ): Promise<{ index: number; value: T }>;
}

export interface NodeStatusRow {
  status: string;
  name: string;
}

export function createStateReader(store: Store, fsm: Fsm): StateReader {
  const db = store.db;
  // The heartbeat hot path. Prepared once (drizzle builds and prepares each
  // query per call, which dominated the leader's CPU at thousands of
  // heartbeats per second), and memoized until the nodes table changes
  // (joins and status changes are rare; heartbeats are not).
  const statusStmt = store.client.prepare("SELECT status, name FROM nodes WHERE id = ?");
  const statusesStmt = store.client.prepare("SELECT id, name, status FROM nodes");
  const statusCache = new Map<string, NodeStatusRow | null>();
  let statusCacheIndex = -1;
  const nodeStatus = (id: string): NodeStatusRow | undefined => {
    const index = fsm.tableIndex("nodes");
    if (index !== statusCacheIndex) {
      statusCache.clear();
      statusCacheIndex = index;
    }
    let row = statusCache.get(id);
    if (row === undefined) {
      row = (statusStmt.get(id) as NodeStatusRow | undefined) ?? null;
      // Bounded: unknown ids (a forgotten agent retrying) are not remembered past a limit.
      if (statusCache.size < 100_000) statusCache.set(id, row);
    }
    return row ?? undefined;
  };
  // A key's row and its lock-delay, remembered for the applied index (core/state/index-memo.ts):
  // the contenders a lock's release wakes read both, all at one index.
  const kvRows = new IndexMemo(() => fsm.appliedIndex(), (k) => kvGet(db, k));
  const lockDelays = new IndexMemo(() => fsm.appliedIndex(), (k) => lockDelayUntil(db, k));
  // A copy: each caller gets an entry of its own, as from the database.
  const kvGetAt = (k: string): KvEntry | undefined => {
    const e = kvRows.get(k);
    return e ? { ...e } : undefined;
  };
  return {
    appliedIndex: () => fsm.appliedIndex(),
    onAllocChanges: (fn) => fsm.onAllocChanges(fn),
    tableIndex: (t) => Math.max(1, fsm.tableIndex(t)),
    listNodes: () => db.select().from(nodes).orderBy(asc(nodes.name)).all(),
    getNode: (idOrName) =>
      nodeById(db).get({ id: idOrName }) ?? nodeByName(db).get({ name: idOrName }),
    nodeStatus,
    nodeStatuses: () => statusesStmt.all() as (NodeStatusRow & { id: string })[],
    kvGet: kvGetAt,
    kvList: (p) => kvList(db, p),
    kvPrefixIndex: (p, visible) => kvPrefixIndex(db, p, visible),
    kvTombstonesUpTo: (index) => kvTombstonesUpTo(db, index),
    catalogTombstonesUpTo: (index) => catalogTombstonesUpTo(db, index),
    variableTombstonesUpTo: (index) => variableTombstonesUpTo(db, index),
    catalog: createCatalogReader(db),
    jobs: createJobsReader(db),
    acl: createAclReader(db),
    sessions: { get: (id) => getSession(db, id), list: (node) => listSessions(db, node), lockDelayUntil: (k) => lockDelays.get(k) },
    lists: createListScans(db),
    counts: createSummaryCounts(db),
    blocking: (opts, read) => blockingQuery(fsm.watch, opts, read),
  };
}

/** For agents, which hold no replicated state of their own. */
export const emptyStateReader: StateReader = {
  appliedIndex: () => 0,
  tableIndex: () => 1,
  listNodes: () => [],
  getNode: () => undefined,
  nodeStatus: () => undefined,
  nodeStatuses: () => [],
  kvGet: () => undefined,
  kvList: () => [],
  kvPrefixIndex: () => 0,
  kvTombstonesUpTo: () => 0,
  catalogTombstonesUpTo: () => 0,
  variableTombstonesUpTo: () => 0,
  catalog: emptyCatalogReader,
  jobs: emptyJobsReader,
  acl: emptyAclReader,
  sessions: { get: () => undefined, list: () => [], lockDelayUntil: () => 0 },
  lists: emptyListScans,
  counts: emptySummaryCounts,
  blocking: async (_opts, read) => read(),
};

export { IndexWatch };
