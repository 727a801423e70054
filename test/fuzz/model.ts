// What the state must be after the fuzz: the state before, changed only by
// the requests the node accepted (2xx writes). KV is modelled exactly (every
// accepted write replayed, keys decoded as the router decodes them), the
// service catalog by service ID; other tables may change only when a write
// of their family was accepted, and must stay byte-for-byte equal otherwise.
import { getPath, tryDecodeURIComponent } from "hono/utils/url";
import { decodeJson, parseServiceRegistration } from "../../plugins/discovery/definition.ts";
import type { RawRequest } from "./raw-http.ts";

export interface Accepted {
  req: RawRequest;
  status: number;
  body: string;
}

interface Dump {
  tables: Record<string, { columns: string[]; rows: unknown[][] }>;
}

/** Tables that move by themselves (node health, heartbeats) or by the fuzz's own bookkeeping. */
const VOLATILE = new Set(["nodes", "audit_log"]);

/** Which accepted writes may change which tables (beyond KV and services, modelled exactly). */
const FAMILIES: [RegExp, string[]][] = [
  [/^\/v1\/acl\//, ["acl_tokens", "acl_policies", "acl_token_policies", "acl_bootstrap"]],
  [/^\/v1\/connect\//, ["intentions"]],
  [/^\/v1\/agent\/(service|check|maintenance)/, ["checks", "catalog_nodes", "catalog_tombstones"]],
  // A deletion of allocations also moves their node's deletion index (node_alloc_deletions); so does garbage collection.
  [/^\/v1\/(jobs?|node\/[^/]+\/drain|system\/gc)(\/|$)/, ["jobs", "job_versions", "evaluations", "allocations", "deployments", "node_drains", "job_launches", "node_alloc_deletions"]],
  // Garbage collection also reaps deleted KV keys', catalog rows' and variables' tombstones and raises their indexes' floors (kv-, catalog-, variable-tombstones.ts).
  [/^\/v1\/system\/gc$/, ["kv_tombstones", "kv_tombstone_floor", "catalog_tombstones", "catalog_tombstone_floor", "variable_tombstones", "variable_tombstone_floor"]],
  // Sessions, and what ending one releases or deletes (KV is modelled only for plain writes).
  [/^\/v1\/session\//, ["sessions", "kv_lock_delays", "kv"]],
  [/^\/v1\/txn$/, ["kv", "kv_lock_delays"]],
  // Variables (docs/variables.md): a write may also make the keyring's first key; a rotation adds one;
  // a delete leaves a tombstone (variable-tombstones.ts).
  [/^\/v1\/(var\/|operator\/keyring\/)/, ["variables", "variable_keys", "variable_tombstones"]],
];

function url(req: RawRequest): URL {
  const t = typeof req.target === "string" ? req.target : Buffer.from(req.target).toString("latin1");
  return new URL(t, "http://127.0.0.1");
}

/** The path parameter after `prefix`, decoded as hono decodes it. */
function paramAfter(req: RawRequest, prefix: string): string | undefined {
  const path = getPath(new Request(url(req).href));
  return path.startsWith(prefix) ? tryDecodeURIComponent(path.slice(prefix.length)) : undefined;
}

function rowsOf(d: Dump, table: string) {
  return d.tables[table] ?? { columns: [], rows: [] };
}

export function kvMap(d: Dump): Map<string, string> {
  const t = rowsOf(d, "kv");
  const k = t.columns.indexOf("key");
  const v = t.columns.indexOf("value");
  return new Map(t.rows.map((r) => [String(r[k]), String(r[v])]));
}

export function serviceIds(d: Dump): Set<string> {
  const t = rowsOf(d, "services");
  const i = t.columns.indexOf("service_id");
  return new Set(t.rows.map((r) => String(r[i])));
}

export function expectedKv(before: Map<string, string>, accepted: Accepted[]): Map<string, string> {
  const kv = new Map(before);
  for (const a of accepted) {
    const key = paramAfter(a.req, "/v1/kv/");
    if (key === undefined || a.status !== 200 || a.body !== "true") continue;
    if (a.req.method === "PUT") kv.set(key, Buffer.from(a.req.body ?? new Uint8Array()).toString("base64"));
    else if (a.req.method === "DELETE") {
      if (url(a.req).searchParams.has("recurse")) for (const k of [...kv.keys()]) if (k.startsWith(key)) kv.delete(k);
      kv.delete(key);
    }
  }
  return kv;
}

export function expectedServices(before: Set<string>, accepted: Accepted[]): Set<string> {
  const ids = new Set(before);
  for (const a of accepted) {
    if (a.status !== 200 || a.req.method !== "PUT") continue;
    const path = url(a.req).pathname;
    if (path === "/v1/agent/service/register") ids.add(parseServiceRegistration(decodeJson(Buffer.from(a.req.body ?? new Uint8Array()).toString("utf8"))).service.id);
    const gone = paramAfter(a.req, "/v1/agent/service/deregister/");
    if (gone !== undefined) ids.delete(gone);
  }
  return ids;
}

/** Differences the accepted writes do not explain. */
export function unexplained(before: Dump, after: Dump, accepted: Accepted[]): string[] {
  const out: string[] = [];
  const paths = accepted.filter((a) => a.req.method !== "GET").map((a) => url(a.req).pathname);
  // KV is modelled exactly for plain KV writes; an accepted transaction or session
  // change (a lock released, a key deleted with its session) leaves it to the table rule.
  const kvExact = !paths.some((p) => /^\/v1\/(txn$|session\/)/.test(p));
  const wantKv = expectedKv(kvMap(before), accepted);
  const gotKv = kvMap(after);
  for (const k of kvExact ? new Set([...wantKv.keys(), ...gotKv.keys()]) : []) {
    if (wantKv.get(k) !== gotKv.get(k)) out.push(`kv ${JSON.stringify(k)}: expected ${wantKv.get(k) ?? "(absent)"}, found ${gotKv.get(k) ?? "(absent)"}`);
  }
  const wantSvc = [...expectedServices(serviceIds(before), accepted)].sort();
  const gotSvc = [...serviceIds(after)].sort();
  if (JSON.stringify(wantSvc) !== JSON.stringify(gotSvc)) out.push(`services: expected ${wantSvc.join(",")}, found ${gotSvc.join(",")}`);
  const mayChange = new Set(["kv", "kv_tombstones", "services"]);
  for (const [re, tables] of FAMILIES) if (paths.some((p) => re.test(p))) tables.forEach((t) => mayChange.add(t));
  for (const t of Object.keys({ ...before.tables, ...after.tables })) {
    if (VOLATILE.has(t) || mayChange.has(t)) continue;
    if (JSON.stringify(rowsOf(before, t).rows) !== JSON.stringify(rowsOf(after, t).rows)) out.push(`table ${t} changed, but no accepted write may change it`);
  }
  return out;
}
