// Consul's PUT /v1/txn (agent/txn_endpoint.go): a JSON list of operations
// ({ "KV": {...} }, { "Node": {...} }, { "Service": {...} }, { "Check": {...} })
// applied as one log entry, all or nothing (core/state/domains/txn.ts).
// 200 { Results, Errors: null }; 409 { Results: null, Errors: [{ OpIndex, What }] }
// when an op fails; 413 past Consul's 128 operations.
//
// ACLs are decided per operation, as Consul does: the route itself needs
// only a known token, and each op needs key/node/service rights on what it
// names; an op the token may not do fails with "Permission denied" at its
// OpIndex (409). The decision is made on the node that received the
// request, before an agent forwards it.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { checkDatacenter } from "../http/consul.ts";
import { consulError } from "../http/errors.ts";
import { requestBody } from "../http/json-body.ts";
import { requestIdentity } from "../acl/enforce.ts";
import type { Authorizer } from "../acl/types.ts";
import { MAX_KV_VALUE_BYTES } from "../state/domains/kv.ts";
import { isWriteOp, KV_VERBS, MAX_TXN_OPS, TxnOp, type TxnError, type TxnOutcome } from "../state/domains/txn.ts";
import type { CoreApiDeps } from "./deps.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
/** Consul's decoder matches field names case-insensitively (duplicates are refused by the body guard). */
const get = (o: Obj, name: string): unknown => o[Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase()) ?? ""];

function bad(i: number, what: string): never {
  throw consulError(400, `Failed to parse body: operation ${i}: ${what}`);
}

/** One API op (Consul's TxnOp) as the command's op. */
export function convertOp(raw: unknown, i: number): TxnOp {
  if (!isObj(raw)) bad(i, "expected an object with one of KV, Node, Service, Check");
  const kv = get(raw, "KV"), node = get(raw, "Node"), svc = get(raw, "Service"), chk = get(raw, "Check");
  const verbOf = (o: Obj) => {
    const v = get(o, "Verb");
    if (typeof v !== "string") bad(i, "missing Verb");
    return v;
  };
  const s = (o: Obj, name: string) => {
    const v = get(o, name);
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") bad(i, `${name} must be a string`);
    return v;
  };
  const n = (o: Obj, name: string) => {
    const v = get(o, name);
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(i, `${name} must be a non-negative integer`);
    return v;
  };
  let op: unknown;
  if (isObj(kv)) {
    const verb = verbOf(kv);
    if (!(KV_VERBS as readonly string[]).includes(verb)) bad(i, `unknown KV verb "${verb}"`);
    const value = s(kv, "Value");
    if (value !== "" && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) bad(i, "Value must be base64");
    const bytes = Buffer.from(value, "base64").byteLength;
    if (bytes > MAX_KV_VALUE_BYTES) throw consulError(413, `Value for key "${s(kv, "Key")}" is too large (${bytes} > ${MAX_KV_VALUE_BYTES} bytes)`);
    op = { kind: "kv", verb, key: s(kv, "Key"), value, flags: n(kv, "Flags"), index: n(kv, "Index"), session: s(kv, "Session") };
    if ((verb === "lock" || verb === "unlock" || verb === "check-session") && s(kv, "Session") === "" && verb !== "check-session") bad(i, `${verb} needs a Session`);
    if (!["get-tree", "delete-tree"].includes(verb) && s(kv, "Key") === "") bad(i, "missing Key");
  } else if (isObj(node)) {
    if (verbOf(node) !== "get") bad(i, `Node verb "${verbOf(node)}" is not supported (only get)`);
    const inner = get(node, "Node");
    op = { kind: "node", verb: "get", node: isObj(inner) ? s(inner, "Node") : "" };
  } else if (isObj(svc)) {
    if (verbOf(svc) !== "get") bad(i, `Service verb "${verbOf(svc)}" is not supported (only get)`);
    const inner = get(svc, "Service");
    op = { kind: "service", verb: "get", node: s(svc, "Node"), service: isObj(inner) ? s(inner, "ID") : "" };
  } else if (isObj(chk)) {
    if (verbOf(chk) !== "get") bad(i, `Check verb "${verbOf(chk)}" is not supported (only get)`);
    const inner = get(chk, "Check");
    op = { kind: "check", verb: "get", node: isObj(inner) ? s(inner, "Node") : "", check: isObj(inner) ? s(inner, "CheckID") : "" };
  } else bad(i, "expected one of KV, Node, Service, Check");
  const parsed = TxnOp.safeParse(op);
  if (!parsed.success) bad(i, parsed.error.issues[0]?.message ?? "invalid");
  return parsed.data;
}

/** The ops a token may not do, as Consul reports them. */
export function deniedOps(ops: TxnOp[], authz: Authorizer): TxnError[] {
  const errors: TxnError[] = [];
  ops.forEach((op, i) => {
    let ok: boolean;
    if (op.kind === "kv") {
      const want = isWriteOp(op) ? "write" : "read";
      ok = op.verb === "delete-tree" || op.verb === "get-tree" ? authz.allowedUnder("key", op.key, want) : authz.allowed("key", op.key, want);
    } else if (op.kind === "node") ok = authz.allowed("node", op.node, "read");
    else if (op.kind === "service") ok = authz.allowed("service", op.service, "read") && authz.allowed("node", op.node, "read");
    else ok = authz.allowed("node", op.node, "read");
    if (!ok) errors.push({ OpIndex: i, What: "Permission denied" });
  });
  return errors;
}

export async function parseOps(c: Context): Promise<TxnOp[]> {
  const body = await requestBody(c);
  if (body.kind === "invalid") throw consulError(400, `Failed to parse body: ${body.message}`);
  const raw = body.kind === "json" ? body.value : [];
  if (!Array.isArray(raw)) throw consulError(400, "Failed to parse body: expected a JSON list of operations");
  if (raw.length > MAX_TXN_OPS) throw consulError(413, `Transaction contains too many operations (${raw.length} > ${MAX_TXN_OPS})`);
  return raw.map(convertOp);
}

export function txnRoutes(d: CoreApiDeps) {
  /** The parsed operations, or the 409 naming those the token may not do. */
  const checkedOps = async (c: Context) => {
    checkDatacenter(c, d.host.datacenter);
    const ops = await parseOps(c);
    const identity = requestIdentity(c);
    if (identity) {
      const denied = deniedOps(ops, identity.authz);
      if (denied.length > 0) return c.json({ Results: null, Errors: denied }, 409);
    }
    return ops;
  };
  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "put", path: "/v1/txn", tags: ["kv"], summary: "Apply KV operations (and catalog reads) atomically, as one log entry (Consul's /v1/txn)",
      request: { query: z.object({ dc: z.string().optional(), token: z.string().optional(), stale: z.string().optional(), consistent: z.string().optional() }) },
      responses: {
        200: { description: "{ Results, Errors: null }", content: { "application/json": { schema: z.object({ Results: z.array(z.object({}).passthrough()).nullable(), Errors: z.null() }) } } },
        409: { description: "{ Results: null, Errors: [{ OpIndex, What }] }: nothing was applied" },
        413: { description: "More than 128 operations, or a value over 512 KiB" },
      },
    }),
    // An agent refuses what the token may not do (each op by its own rule) before it forwards.
    leader: "forward",
    beforeForward: async (c) => {
      const ops = await checkedOps(c);
      if (ops instanceof Response) return ops;
    },
    handler: async (c) => {
      const ops = await checkedOps(c);
      if (ops instanceof Response) return ops;
      if (ops.length === 0) return c.json({ Results: [], Errors: null });
      const out = await d.propose({ type: "Txn", v: 1, at: Date.now(), ops });
      if (!out.result.ok) throw consulError(500, out.result.message);
      const r = out.result.value as TxnOutcome;
      if (r.errors.length > 0) return c.json({ Results: null, Errors: r.errors }, 409);
      c.header("X-Consul-Index", String(out.index));
      return c.json({ Results: r.results, Errors: null });
    },
    permission: "authenticated",
  });
}
