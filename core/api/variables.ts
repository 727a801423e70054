// Variables (Nomad's /v1/var, docs/variables.md):
//   PUT    /v1/var/{path}   { Items: { k: v } }   ?cas=N (0: must not exist), ?namespace
//   GET    /v1/var/{path}   the variable with its items (404 when absent); ?index=N&wait= blocks
//   DELETE /v1/var/{path}   ?cas=N
//   GET    /v1/vars         ?prefix= &namespace= (* = all): metadata only, never items; ?index=N&wait= blocks
//   POST   /v1/operator/keyring/rotate  ?full: a new active key (and re-encrypt everything)
//   GET    /v1/operator/keyring/keys    key ids and dates, never key material
// Items are encrypted here, on the leader-role node, before the command is
// proposed, and decrypted here on read: the log, state.db and snapshots
// hold ciphertext only.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, badRequest, notFound, statusForCode } from "../http/errors.ts";
import { requestBody } from "../http/json-body.ts";
import { readScope } from "../acl/read-scope.ts";
import { aclError, requestIdentity } from "../acl/enforce.ts";
import type { Db } from "../store/db.ts";
import { allVariables, getVariable, listVariables, listVariableTombstones, variableIndex, variableListIndex, type VarWriteResult, type VariableMeta } from "../state/domains/variables.ts";
import { blocking } from "./job-views.ts";
import { decryptItems, encryptItems } from "../variables/crypto.ts";
import { Keyring } from "../variables/keyring.ts";
import { CA_NAMESPACE } from "../connect/ca.ts";
import { itemsProblem, pathProblem, VariableBody } from "../variables/limits.ts";
import { routedAdder } from "./jobs.ts";
import type { CoreApiDeps } from "./deps.ts";
import { pathParam } from "./schemas.ts";
import { collectPage } from "../http/paging.ts";
import { createListScans } from "../state/domains/list-scan.ts";
import { PageQuery, pageRequest, setPageHeaders } from "./paged-list.ts";

const tags = ["variables"];
const PathParam = z.object({ path: z.string().max(256) });
const Blocking = { index: z.string().max(20).optional(), wait: z.string().max(20).optional() };
const VarQuery = z.object({ namespace: z.string().max(128).optional(), cas: z.string().optional(), ...Blocking });
const ListQuery = PageQuery.extend({ namespace: z.string().max(128).optional(), prefix: z.string().max(256).optional(), ...Blocking });

/** The blocking index, as the jobs API (X-Corral-Index) and as Nomad spells it (X-Nomad-Index). */
function setIndex(c: Context, index: number): void {
  c.header("X-Corral-Index", String(index));
  c.header("X-Nomad-Index", String(index));
}
const answer = { 200: { description: "OK" } };

export function metaView(m: VariableMeta) {
  return { Namespace: m.namespace, Path: m.path, CreateIndex: m.createIndex, ModifyIndex: m.modifyIndex, CreateTime: m.createTime, ModifyTime: m.modifyTime };
}

function namespaceOf(c: Context): string {
  const ns = new URL(c.req.url).searchParams.get("namespace") || "default";
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(ns)) throw badRequest("the namespace may hold only letters, digits, - and _");
  return ns;
}

/**
 * Rules name paths, not namespaces; a task's workload identity reads its own
 * job's namespace only (Nomad's), or a job "web" in one namespace would read
 * "jobs/web/..." of every other. (Known on leader-role nodes: an agent passes
 * every variables request on, where the token is resolved again.)
 */
function workloadNamespace(c: Context): string | undefined {
  return requestIdentity(c)?.workloadNamespace;
}

function pathOf(c: Context): string {
  const p = pathParam(c, "path");
  const problem = pathProblem(p);
  if (problem) throw badRequest(problem, "INVALID_PATH");
  return p;
}

function casOf(c: Context): number | undefined {
  const v = new URL(c.req.url).searchParams.get("cas");
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw badRequest("cas must be a non-negative integer (a ModifyIndex, or 0 for must-not-exist)");
  return Number(v);
}

/** Nomad answers a failed check-and-set with 409 and what is there now (metadata only here). */
function casConflict(c: Context, conflict: VariableMeta | null): Response {
  return c.json({ error: conflict ? `cas conflict: the variable's ModifyIndex is ${conflict.modifyIndex}` : "cas conflict: the variable does not exist", code: "CAS_CONFLICT", ...(conflict ? metaView(conflict) : {}) }, 409);
}

export interface VariablesDeps {
  /** Replicated state (leader-role nodes); undefined on agents, which forward. */
  db?: Db;
  clusterSecret: string;
}

export function variableRoutes(d: CoreApiDeps, v: VariablesDeps): Keyring | undefined {
  const add = routedAdder(d);
  const keyring = v.db ? new Keyring(v.db, v.clusterSecret, d.propose) : undefined;
  const need = () => {
    if (!keyring || !v.db) throw new ApiError(503, "NOT_A_LEADER_ROLE", "variables are kept by leader-role nodes");
    return { keyring, db: v.db };
  };
  const write = async (cmd: Parameters<CoreApiDeps["propose"]>[0]): Promise<VarWriteResult> => {
    const out = await d.propose(cmd);
    if (!out.result.ok) throw new ApiError(statusForCode(out.result.code), out.result.code, out.result.message);
    return out.result.value as VarWriteResult;
  };

  add(createRoute({
    method: "put", path: "/v1/var/{path{.+}}", tags, summary: "Write a variable's items (encrypted before they reach the log); ?cas=N",
    request: { params: PathParam, query: VarQuery }, responses: answer,
  }), async (c) => {
    const { keyring } = need();
    const ns = namespaceOf(c);
    const path = pathOf(c);
    const cas = casOf(c);
    const body = await requestBody(c);
    if (body.kind !== "json") throw badRequest('the body must be JSON: { "Items": { "key": "value" } }');
    const parsed = VariableBody.safeParse(body.value);
    if (!parsed.success) throw badRequest(`invalid variable: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`);
    if (parsed.data.Path !== undefined && parsed.data.Path !== path) throw badRequest(`the body's Path "${parsed.data.Path}" differs from the URL's "${path}"`);
    if (parsed.data.Namespace !== undefined && parsed.data.Namespace !== ns) throw badRequest(`the body's Namespace "${parsed.data.Namespace}" differs from the request's "${ns}"`);
    const items = parsed.data.Items;
    const problem = itemsProblem(items);
    if (problem) throw new ApiError(problem.status, problem.status === 413 ? "TOO_LARGE" : "INVALID_INPUT", problem.message);
    const key = await keyring.active();
    const sealed = encryptItems(key.key, ns, path, items);
    const r = await write({ type: "VarPut", v: 1, at: Date.now(), namespace: ns, path, keyId: key.id, nonce: sealed.nonce, data: sealed.data, cas });
    if (!r.written) return casConflict(c, r.conflict);
    return c.json({ ...metaView(r.meta!), Items: items });
  });

  add(createRoute({
    method: "get", path: "/v1/var/{path{.+}}", tags, summary: "Read a variable with its items (decrypted on the leader-role node)",
    request: { params: PathParam, query: VarQuery }, responses: answer,
  }), async (c) => {
    const { keyring, db } = need();
    const ns = namespaceOf(c);
    const path = pathOf(c);
    const own = workloadNamespace(c);
    if (own !== undefined && own !== ns) throw aclError(c, 403, "PERMISSION_DENIED", `Permission denied: a task's identity reads variables of its job's namespace (${own}) only`);
    // ?index=N waits until this path is written or deleted past N. The route's check already needed
    // read on this path; the index is this path's own (its write, else its delete), so the wait says
    // nothing of other variables (the table's index would move on writes the token cannot read).
    const { index, waitMs } = blocking(c);
    const out = await d.state.blocking({ tables: ["variables"], minIndex: index, waitMs, signal: c.req.raw.signal }, () => ({ index: variableIndex(db, ns, path), value: null }));
    setIndex(c, out.index);
    const row = getVariable(db, ns, path);
    if (!row) throw notFound(`no variable ${path} in namespace ${ns}`, "VARIABLE_NOT_FOUND"); // with the index header set above
    let items: Record<string, string>;
    try {
      items = decryptItems(keyring.key(row.keyId), ns, path, { nonce: row.nonce, data: row.data });
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(500, "DECRYPT_FAILED", `variable ${path} does not decrypt (its ciphertext was altered or moved)`);
    }
    return c.json({ ...metaView(row), Items: items });
  }, true);

  add(createRoute({
    method: "delete", path: "/v1/var/{path{.+}}", tags, summary: "Delete a variable; ?cas=N",
    request: { params: PathParam, query: VarQuery }, responses: answer,
  }), async (c) => {
    need();
    const ns = namespaceOf(c);
    const path = pathOf(c);
    const r = await write({ type: "VarDelete", v: 1, at: Date.now(), namespace: ns, path, cas: casOf(c) });
    if (!r.written) return casConflict(c, r.conflict);
    return c.json({ Namespace: ns, Path: path, Deleted: true });
  });

  add(createRoute({
    method: "get", path: "/v1/vars", tags, summary: "Variables' metadata under ?prefix (never their items); ?namespace=* for all; ?per_page&next_token; ?filter",
    request: { query: ListQuery }, responses: answer,
  }), async (c) => {
    const { db } = need();
    const q = new URL(c.req.url).searchParams;
    const own = workloadNamespace(c);
    const asked = q.get("namespace") === "*" ? undefined : namespaceOf(c);
    // Filtered at the source: a token sees only the paths it may read (docs/acl.md), a task its job's namespace only.
    const prefix = q.get("prefix") ?? "";
    const scope = readScope(c);
    const foreign = own !== undefined && asked !== undefined && asked !== own;
    const scans = createListScans(db);
    const params = pageRequest(c, ["s", "s"]);
    // ?index=N waits for a change under the prefix that the token can see: the index is the highest
    // write or delete among the readable paths only (the whole prefix, not the page), so hidden ones
    // neither wake nor move it; it is at least the floor reaped tombstones leave (variable-tombstones.ts),
    // so it never goes back (a task's list of another namespace stays at 1). The page is cut from the
    // same state, after the wait.
    const { index, waitMs } = blocking(c);
    const out = await d.state.blocking({ tables: ["variables"], minIndex: index, waitMs, signal: c.req.raw.signal }, () => {
      // The mesh CA's state (core/connect/ca.ts) is no user's variable.
      const list = foreign ? [] : scope.keepUnder(listVariables(db, own ?? asked, prefix).filter((m) => m.namespace !== CA_NAMESPACE), "variable", prefix, (m) => m.path);
      const gone = foreign ? [] : scope.keepUnder(listVariableTombstones(db, own ?? asked, prefix), "variable", prefix, (t) => t.path);
      const at = foreign ? 1 : variableListIndex(db, list, gone);
      const page = collectPage({
        params,
        scan: (from, limit) => (foreign ? [] : scans.variables({ namespace: own ?? asked, prefix }, from, limit)),
        keep: (rows) => scope.keepUnder(rows.filter((m) => m.namespace !== CA_NAMESPACE), "variable", prefix, (m) => m.path),
        keyOf: (m) => [m.namespace, m.path],
        view: metaView,
      });
      return { index: at, value: page };
    });
    setIndex(c, out.index);
    setPageHeaders(c, out.value);
    return c.json(out.value.views);
  }, true);

  add(createRoute({
    method: "post", path: "/v1/operator/keyring/rotate", tags, summary: "Make a new active variables key; ?full re-encrypts every variable with it",
    request: { query: z.object({ full: z.string().optional() }) }, responses: answer,
  }), async (c) => {
    const { keyring, db } = need();
    const fresh = await keyring.rotate();
    let reencrypted = 0;
    let skipped = 0;
    if (new URL(c.req.url).searchParams.has("full")) {
      for (const row of allVariables(db)) {
        if (row.keyId === fresh.id) continue;
        let items: Record<string, string>;
        try {
          items = decryptItems(keyring.key(row.keyId), row.namespace, row.path, { nonce: row.nonce, data: row.data });
        } catch (err) {
          if (err instanceof ApiError) throw err;
          throw new ApiError(500, "DECRYPT_FAILED", `variable ${row.path} (namespace ${row.namespace}) does not decrypt; the rotation stopped there (its new key is active)`);
        }
        const sealed = encryptItems(fresh.key, row.namespace, row.path, items);
        // cas on what was read: a variable written meanwhile already uses the new key.
        const r = await write({ type: "VarPut", v: 1, at: Date.now(), namespace: row.namespace, path: row.path, keyId: fresh.id, nonce: sealed.nonce, data: sealed.data, cas: row.modifyIndex });
        if (r.written) reencrypted++;
        else skipped++;
      }
    }
    return c.json({ KeyID: fresh.id, Index: fresh.index, Reencrypted: reencrypted, Skipped: skipped });
  });

  add(createRoute({
    method: "get", path: "/v1/operator/keyring/keys", tags, summary: "The variables keyring: key ids, which is active, when made (never key material)",
    responses: answer,
  }), (c) => c.json(need().keyring.list()), true);

  return keyring;
}
