// Which service names an applied catalog entry changed, read back from the
// rows it left, as kv-keys-changed.ts does for KV keys: a health blocking
// query (`/v1/health/service/<name>`) waits on its own name
// (core/state/watch.ts keyed topics) and is woken by these and by nothing
// else of the services, checks and catalog_tombstones tables.
//
// A service's health answer and its index are made of (domains/catalog-read.ts
// serviceInstances): its instances' rows, the service tombstone of its name,
// the checks on its instances' nodes (its own service checks and the nodes'
// node checks) and the node-check tombstones of those nodes; plus the nodes'
// rows (nodes: the agents' membership, serfHealth; catalog_nodes: nodes known
// from registrations only).
// Every write sets a row's modify_index to the entry's index and every
// deletion records it in a tombstone (domains/catalog.ts), so the names here
// are:
//   - instances written (services.modify_index);
//   - names deleted or renamed away (service tombstones);
//   - the service of each written service check;
//   - every service on a node whose node check was written or deleted
//     (a node check is part of every instance's health on that node);
//   - every service on a node whose node tombstone moved (conservative: a
//     node's deregistration);
//   - every service on a node whose nodes or catalog_nodes row was written
//     (its address, meta or status: part of every instance's answer).
// Every catalog write lists catalog_nodes among its tables, so a table left
// unkeyed would wake every health watcher on every registration.
// Names are lowercased in JS (`toLowerCase`), as the tombstones are; the read
// matches names with SQLite's ASCII-only NOCASE, so two names it tells apart
// may share a key here: that only wakes a few more waiters, never fewer.
//
// Read after the entry's transaction committed; a row a later entry of the
// same commit rewrote is named when that entry is published (in order).
import { clientOf, type Db } from "../store/db.ts";
import type { WatchTopic } from "./watch.ts";

/** The tables a health answer is read from, whose waiters may be narrowed to a service name. */
export const SERVICE_KEYED_TABLES = ["services", "checks", "catalog_tombstones", "catalog_nodes", "nodes"] as const;

/** What a health query on `name` waits on: its name in each table its answer is read from. */
export function serviceHealthTopics(name: string): WatchTopic[] {
  const key = serviceNameKey(name);
  return SERVICE_KEYED_TABLES.map((table) => ({ table, key }));
}

/** What /v1/catalog/service/<name> waits on: as a health query, without the checks (its answer has none). */
export function serviceCatalogTopics(name: string): WatchTopic[] {
  const key = serviceNameKey(name);
  return SERVICE_KEYED_TABLES.filter((t) => t !== "checks").map((table) => ({ table, key }));
}

/** The key a health query on `name` waits under (the changed names are keyed the same way). */
export const serviceNameKey = (name: string): string => name.toLowerCase();

export function serviceNamesChangedAt(db: Db, index: number): string[] {
  const rows = clientOf(db).prepare(
    `SELECT name AS n FROM services WHERE modify_index = ?
     UNION SELECT key AS n FROM catalog_tombstones WHERE kind = 'service' AND delete_index = ?
     UNION SELECT s.name AS n FROM checks c JOIN services s ON s.node_id = c.node_id AND s.service_id = c.service_id
       WHERE c.modify_index = ? AND c.service_id <> ''
     UNION SELECT s.name AS n FROM checks c JOIN services s ON s.node_id = c.node_id
       WHERE c.modify_index = ? AND c.service_id = ''
     UNION SELECT s.name AS n FROM catalog_tombstones t JOIN services s ON s.node_id = t.key
       WHERE t.kind IN ('nodecheck', 'node') AND t.delete_index = ?
     UNION SELECT s.name AS n FROM nodes nd JOIN services s ON s.node_id = nd.id WHERE nd.modify_index = ?
     UNION SELECT s.name AS n FROM catalog_nodes cn JOIN services s ON s.node_id = cn.id WHERE cn.modify_index = ?`,
  ).all(index, index, index, index, index, index, index) as { n: string }[];
  const names = new Set<string>();
  for (const r of rows) names.add(serviceNameKey(r.n));
  return [...names];
}
