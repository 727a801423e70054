// Consul's /v1/txn: a list of KV operations (and node/service/check reads)
// applied as one log entry, all or nothing. Each op's failure is reported
// with its position (Errors[].OpIndex) in Consul's words, and any failure
// rolls every op of the entry back (a savepoint inside the entry's
// transaction); the entry itself still succeeds, so the refusal is the
// deterministic outcome on every replica.
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { kvAppliers, kvGet, kvList, MAX_KV_VALUE_BYTES, type KvEntry } from "./kv.ts";
import { applyLockWrite } from "./kv-locks.ts";

/** Consul's maxTxnOps (agent/txn_endpoint.go). */
export const MAX_TXN_OPS = 128;

export const KV_VERBS = [
  "set", "cas", "lock", "unlock", "get", "get-tree", "check-index", "check-session", "check-not-exists", "delete", "delete-tree", "delete-cas",
] as const;
export type KvVerb = (typeof KV_VERBS)[number];
const WRITE_VERBS: ReadonlySet<string> = new Set(["set", "cas", "lock", "unlock", "delete", "delete-tree", "delete-cas"]);

const name = z.string().max(1024);
export const TxnOp = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("kv"), verb: z.enum(KV_VERBS), key: name,
    value: z.string().max(Math.ceil(MAX_KV_VALUE_BYTES / 3) * 4).default(""),
    flags: z.number().int().nonnegative().default(0), index: z.number().int().nonnegative().default(0), session: z.string().max(64).default(""),
  }),
  z.object({ kind: z.literal("node"), verb: z.literal("get"), node: name }),
  z.object({ kind: z.literal("service"), verb: z.literal("get"), node: name, service: name }),
  z.object({ kind: z.literal("check"), verb: z.literal("get"), node: name, check: name }),
]);
export type TxnOp = z.infer<typeof TxnOp>;

export const Txn = z.object({ type: z.literal("Txn"), v: z.literal(1), at: z.number(), ops: z.array(TxnOp).min(1).max(MAX_TXN_OPS) });
export const txnCommands = [Txn] as const;

export function isWriteOp(op: TxnOp): boolean {
  return op.kind === "kv" && WRITE_VERBS.has(op.verb);
}

export type TxnResult = Record<string, unknown>;
export interface TxnError {
  OpIndex: number;
  What: string;
}
export interface TxnOutcome {
  results: TxnResult[];
  errors: TxnError[];
}

/** Consul's DirEntry JSON; writes answer without the value. */
export function kvView(e: KvEntry, withValue = true) {
  return {
    LockIndex: e.lockIndex ?? 0, Key: e.key, Flags: e.flags, Value: withValue && e.value !== "" ? e.value : null,
    ...(e.session ? { Session: e.session } : {}),
    CreateIndex: e.createIndex, ModifyIndex: e.modifyIndex,
  };
}

const q = (s: string) => JSON.stringify(s);

/** Runs one op; returns its results or throws its failure as a string. */
function runOp(db: Db, index: number, at: number, op: TxnOp): TxnResult[] {
  if (op.kind === "kv") return runKv(db, index, at, op);
  const client = clientOf(db);
  const node = (client.prepare("SELECT id, name, address, datacenter, create_index AS c, modify_index AS m FROM nodes WHERE name = ? COLLATE NOCASE ORDER BY status = 'ready' DESC LIMIT 1").get(op.node) ??
    client.prepare("SELECT id, name, address, datacenter, create_index AS c, modify_index AS m FROM catalog_nodes WHERE name = ? COLLATE NOCASE LIMIT 1").get(op.node)) as
    | { id: string; name: string; address: string; datacenter: string; c: number; m: number }
    | undefined;
  if (op.kind === "node") {
    if (!node) throw `node ${q(op.node)} doesn't exist`;
    return [{ Node: { ID: node.id, Node: node.name, Address: node.address.replace(/:\d+$/, ""), Datacenter: node.datacenter, TaggedAddresses: null, Meta: null, CreateIndex: node.c, ModifyIndex: node.m } }];
  }
  if (op.kind === "service") {
    const s = node && (client.prepare("SELECT * FROM services WHERE node_id = ? AND service_id = ?").get(node.id, op.service) as Record<string, unknown> | undefined);
    if (!s) throw `service ${q(op.service)} on node ${q(op.node)} doesn't exist`;
    return [{ Service: {
      ID: s.service_id, Service: s.name, Tags: JSON.parse(String(s.tags)), Address: s.address, Meta: JSON.parse(String(s.meta)), Port: s.port,
      Weights: JSON.parse(String(s.weights)), EnableTagOverride: Boolean(s.enable_tag_override), CreateIndex: s.create_index, ModifyIndex: s.modify_index,
    } }];
  }
  const c = node && (client.prepare("SELECT * FROM checks WHERE node_id = ? AND check_id = ?").get(node.id, op.check) as Record<string, unknown> | undefined);
  if (!c || !node) throw `check ${q(op.check)} on node ${q(op.node)} doesn't exist`;
  return [{ Check: {
    Node: node.name, CheckID: c.check_id, Name: c.name, Status: c.status, Notes: c.notes, Output: c.output, ServiceID: c.service_id,
    Type: c.type, Definition: JSON.parse(String(c.definition)), CreateIndex: c.create_index, ModifyIndex: c.modify_index,
  } }];
}

function runKv(db: Db, index: number, at: number, op: Extract<TxnOp, { kind: "kv" }>): TxnResult[] {
  const entry = (withValue = false): TxnResult[] => {
    const e = kvGet(db, op.key);
    return e ? [{ KV: kvView(e, withValue) }] : [];
  };
  const set = (cas?: number) => kvAppliers.KVSet.apply(db, index, { type: "KVSet", v: 1, at, key: op.key, value: op.value, flags: op.flags, cas });
  const del = (recurse: boolean, cas?: number) => kvAppliers.KVDelete.apply(db, index, { type: "KVDelete", v: 1, at, key: op.key, recurse, cas });
  switch (op.verb) {
    case "set":
      set();
      return entry();
    case "cas":
      if ((set(op.index) as { value?: unknown }).value !== true) throw `failed to set key ${q(op.key)}, index is stale`;
      return entry();
    case "lock":
    case "unlock": {
      const out = applyLockWrite(db, index, at, { key: op.key, value: op.value, flags: op.flags, ...(op.verb === "lock" ? { acquire: op.session } : { release: op.session }) });
      if (!out.ok) {
        if (out.why === "invalid-session") throw out.message;
        if (op.verb === "unlock") throw `failed to unlock key ${q(op.key)}, lock isn't held, or is held by another session`;
        throw out.why === "delay" ? `failed to lock key ${q(op.key)}, lock-delay in effect` : `failed to lock key ${q(op.key)}, lock is already held`;
      }
      return entry();
    }
    case "get": {
      const r = entry(true);
      if (r.length === 0) throw `key ${q(op.key)} doesn't exist`;
      return r;
    }
    case "get-tree":
      return kvList(db, op.key).map((e) => ({ KV: kvView(e) }));
    case "check-index": {
      const e = kvGet(db, op.key);
      if (!e) throw `key ${q(op.key)} doesn't exist`;
      if (e.modifyIndex !== op.index) throw `failed index check for key ${q(op.key)}, current modify index ${e.modifyIndex} != ${op.index}`;
      return [{ KV: kvView(e, false) }];
    }
    case "check-session": {
      const e = kvGet(db, op.key);
      if (!e) throw `key ${q(op.key)} doesn't exist`;
      if ((e.session ?? "") !== op.session) throw `failed session check for key ${q(op.key)}, current session ${q(e.session ?? "")} != ${q(op.session)}`;
      return [{ KV: kvView(e, false) }];
    }
    case "check-not-exists":
      if (kvGet(db, op.key)) throw `key ${q(op.key)} exists`;
      return [];
    case "delete":
      del(false);
      return [];
    case "delete-tree":
      del(true);
      return [];
    case "delete-cas":
      if ((del(false, op.index) as { value?: unknown }).value !== true) throw `failed to delete key ${q(op.key)}, index is stale`;
      return [];
  }
}

class RolledBack extends Error {
  constructor(readonly errors: TxnError[]) {
    super("txn rolled back");
  }
}

function applyTxn(db: Db, index: number, cmd: z.infer<typeof Txn>): CommandResult {
  const client = clientOf(db);
  try {
    const results = client.transaction(() => {
      const results: TxnResult[] = [];
      const errors: TxnError[] = [];
      cmd.ops.forEach((op, i) => {
        try {
          results.push(...runOp(db, index, cmd.at, op));
        } catch (err) {
          if (typeof err !== "string") throw err;
          errors.push({ OpIndex: i, What: err });
        }
      });
      if (errors.length > 0) throw new RolledBack(errors);
      return results;
    })();
    return { ok: true, value: { results, errors: [] } satisfies TxnOutcome };
  } catch (err) {
    if (err instanceof RolledBack) return { ok: true, value: { results: [], errors: err.errors } satisfies TxnOutcome };
    throw err;
  }
}

export const txnAppliers = {
  Txn: { tables: ["kv"], apply: applyTxn },
};
