// Read-only access to replicated state for HTTP handlers and plugins.
import { asc, eq } from "drizzle-orm";
import type { Store } from "../store/db.ts";
import { nodes, type NodeRow } from "../store/schema.ts";
import type { Fsm } from "./fsm.ts";
import { kvGet, kvList, kvPrefixIndex, type KvEntry } from "./domains/kv.ts";
import { createCatalogReader, emptyCatalogReader, type CatalogReader } from "./domains/catalog-read.ts";
import { blockingQuery, IndexWatch } from "./watch.ts";
import { createJobsReader, emptyJobsReader, type JobsReader } from "./domains/jobs-read.ts";

export interface StateReader {
  /** Index of the last applied command (X-Corral-Index). */
  appliedIndex(): number;
  /** Highest index that changed `table` (never 0: Consul clients treat 0 as "no index"). */
  tableIndex(table: string): number;
  listNodes(): NodeRow[];
  getNode(idOrName: string): NodeRow | undefined;
  kvGet(key: string): KvEntry | undefined;
  kvList(prefix: string): KvEntry[];
  kvPrefixIndex(prefix: string): number;
  /** The service catalog (discovery plugin, DNS): each query with its blocking index. */
  catalog: CatalogReader;
  /** Jobs, evaluations, allocations, deployments, drains (scheduling loop, API, agents). */
  jobs: JobsReader;
  /** Evaluate `read` now, or wait (up to waitMs) until its index passes minIndex. */
  blocking<T>(
    opts: { tables: readonly string[]; minIndex: number; waitMs: number; signal?: AbortSignal },
    read: () => { index: number; value: T },
  ): Promise<{ index: number; value: T }>;
}

export function createStateReader(store: Store, fsm: Fsm): StateReader {
  const db = store.db;
  return {
    appliedIndex: () => fsm.appliedIndex(),
    tableIndex: (t) => Math.max(1, fsm.tableIndex(t)),
    listNodes: () => db.select().from(nodes).orderBy(asc(nodes.name)).all(),
    getNode: (idOrName) =>
      db.select().from(nodes).where(eq(nodes.id, idOrName)).get() ??
      db.select().from(nodes).where(eq(nodes.name, idOrName)).get(),
    kvGet: (k) => kvGet(db, k),
    kvList: (p) => kvList(db, p),
    kvPrefixIndex: (p) => kvPrefixIndex(db, p),
    catalog: createCatalogReader(db),
    jobs: createJobsReader(db),
    blocking: (opts, read) => blockingQuery(fsm.watch, opts, read),
  };
}

/** For agents, which hold no replicated state of their own. */
export const emptyStateReader: StateReader = {
  appliedIndex: () => 0,
  tableIndex: () => 1,
  listNodes: () => [],
  getNode: () => undefined,
  kvGet: () => undefined,
  kvList: () => [],
  kvPrefixIndex: () => 0,
  catalog: emptyCatalogReader,
  jobs: emptyJobsReader,
  blocking: async (_opts, read) => read(),
};

export { IndexWatch };
