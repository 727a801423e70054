// The ACL, intention and audit commands on a real SQLite store through the
// production write path (propose → log → FSM): bootstrap once, token and
// policy rules that depend on state, reserved ids, intention modes, audit
// retention, and the token resolver over that state.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../../core/store/db.ts";
import { Fsm } from "../../core/state/fsm.ts";
import { testReplicator } from "../helpers/replicator.ts";
import type { RaftReplicator } from "../../core/cluster/raft/replicator.ts";
import { createStateReader, type StateReader } from "../../core/state/reader.ts";
import type { Command } from "../../core/state/commands.ts";
import { hashSecret } from "../../core/acl/secret.ts";
import { stateTokenSource, TokenResolver } from "../../core/acl/resolve.ts";
import { ANONYMOUS_ACCESSOR, MANAGEMENT_POLICY_ID } from "../../core/acl/types.ts";

const dirs: string[] = [];
let store: Store;
let log: RaftReplicator;
let state: StateReader;

afterAll(async () => {
  await log?.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

beforeEach(async () => {
  const d = mkdtempSync(join(tmpdir(), "corral-acl-"));
  dirs.push(d);
  store = await openStore(join(d, "state.db"));
  const fsm = new Fsm(store);
  await log?.close();
  log = testReplicator(store, fsm);
  state = createStateReader(store, fsm);
});

const at = 1_000_000;
const run = async (cmd: Command) => (await log.propose(cmd)).result;
const bootstrap = (accessorId = "boot", secret = "s-boot") => run({ type: "ACLBootstrap", v: 1, at, accessorId, secretHash: hashSecret(secret) });
const policy = (id: string, name: string, rules = "", mode: "create" | "update" = "create") =>
  run({ type: "ACLPolicySet", v: 1, at, mode, policy: { id, name, description: "", rules } });
const token = (accessorId: string, secret: string, policyIds: string[], mode: "create" | "update" = "create") =>
  run({ type: "ACLTokenSet", v: 1, at, mode, token: { accessorId, description: "", policyIds, serviceIdentities: [] }, secretHash: mode === "create" ? hashSecret(secret) : undefined });

describe("ACL state", () => {
  test("bootstrap creates the management policy, the token and the anonymous token, once", async () => {
    expect(await bootstrap()).toEqual({ ok: true, value: { accessorId: "boot" } });
    const again = await bootstrap("boot2", "s2");
    expect(again).toMatchObject({ ok: false, code: "ACL_BOOTSTRAP_DONE" });
    expect((again as { message: string }).message).toMatch(/reset index: \d+/);
    expect(state.acl.bootstrap()?.accessorId).toBe("boot");
    expect(state.acl.token("boot")?.policies.map((p) => p.id)).toEqual([MANAGEMENT_POLICY_ID]);
    expect(state.acl.token(ANONYMOUS_ACCESSOR)?.policies).toEqual([]);
    expect(state.acl.tokenByHash(hashSecret("s-boot"))?.accessorId).toBe("boot");
  });

  test("tokens: unique accessor and secret, existing policies, update keeps the secret", async () => {
    await bootstrap();
    expect(await token("t1", "s1", ["missing"])).toMatchObject({ ok: false, code: "ACL_POLICY_NOT_FOUND" });
    await policy("p1", "one");
    expect((await token("t1", "s1", ["p1"])).ok).toBe(true);
    expect(await token("t1", "other", [])).toMatchObject({ ok: false, code: "ACL_TOKEN_TAKEN" });
    expect(await token("t2", "s1", [])).toMatchObject({ ok: false, code: "ACL_TOKEN_TAKEN" });
    expect((await token("t1", "", [], "update")).ok).toBe(true);
    expect(state.acl.token("t1")?.policies).toEqual([]);
    expect(state.acl.tokenByHash(hashSecret("s1"))?.accessorId).toBe("t1");
    expect(await token("nope", "", [], "update")).toMatchObject({ ok: false, code: "ACL_TOKEN_NOT_FOUND" });
    expect(await run({ type: "ACLTokenDelete", v: 1, at, accessorId: ANONYMOUS_ACCESSOR })).toMatchObject({ ok: false, code: "ACL_TOKEN_RESERVED" });
    expect((await run({ type: "ACLTokenDelete", v: 1, at, accessorId: "t1" })).ok).toBe(true);
    expect(state.acl.tokenByHash(hashSecret("s1"))).toBeUndefined();
  });

  test("policies: unique names, the management policy is reserved, deleting unlinks tokens", async () => {
    await bootstrap();
    await policy("p1", "one");
    expect(await policy("p2", "one")).toMatchObject({ ok: false, code: "ACL_POLICY_NAME_TAKEN" });
    expect(await policy(MANAGEMENT_POLICY_ID, "x", "", "update")).toMatchObject({ ok: false, code: "ACL_POLICY_RESERVED" });
    expect(await run({ type: "ACLPolicyDelete", v: 1, at, id: MANAGEMENT_POLICY_ID })).toMatchObject({ ok: false, code: "ACL_POLICY_RESERVED" });
    await token("t1", "s1", ["p1"]);
    expect((await run({ type: "ACLPolicyDelete", v: 1, at, id: "p1" })).ok).toBe(true);
    expect(state.acl.token("t1")?.policies).toEqual([]);
  });

  test("the resolver reads the state: rules, management, anonymous, unknown", async () => {
    const resolver = new TokenResolver({ source: stateTokenSource(() => state.acl), defaultAllow: () => false, ttlMs: 0, downPolicy: "deny", localToken: "local-secret" });
    expect((await resolver.resolve(""))?.anonymous).toBe(true); // before bootstrap too
    await bootstrap();
    await policy("p1", "kv", 'key_prefix "a/" { policy = "write" }');
    await token("t1", "s1", ["p1"]);
    const id = (await resolver.resolve("s1"))!;
    expect(id.accessorId).toBe("t1");
    expect(id.authz.allowed("key", "a/x", "write")).toBe(true);
    expect(id.authz.allowed("key", "b", "read")).toBe(false);
    expect((await resolver.resolve("s-boot"))!.authz.allowed("acl", "", "write")).toBe(true);
    expect((await resolver.resolve("local-secret"))!.authz.allowed("operator", "", "write")).toBe(true);
    expect(await resolver.resolve("no-such-secret")).toBeUndefined();
    expect(await resolver.resolve("x".repeat(300))).toBeUndefined();
    await policy("p1", "kv", 'key_prefix "b/" { policy = "read" }', "update");
    expect((await resolver.resolve("s1"))!.authz.allowed("key", "b/1", "read")).toBe(true);
  });
});

describe("intentions state", () => {
  const set = (id: string, source: string, destination: string, action: "allow" | "deny", mode: "create" | "upsert" | "update" = "create") =>
    run({ type: "IntentionSet", v: 1, at, mode, intention: { id, source, destination, action, description: "", meta: {} } });

  test("one per pair: create refuses a duplicate, upsert replaces and keeps the id", async () => {
    expect((await set("i1", "web", "db", "allow")).ok).toBe(true);
    expect(await set("i2", "web", "db", "deny")).toMatchObject({ ok: false, code: "INTENTION_TAKEN" });
    expect(await set("i3", "web", "db", "deny", "upsert")).toEqual({ ok: true, value: { id: "i1" } });
    expect(state.acl.intentionExact("web", "db")).toMatchObject({ id: "i1", action: "deny" });
    expect(await set("zz", "a", "b", "allow", "update")).toMatchObject({ ok: false, code: "INTENTION_NOT_FOUND" });
    expect((await run({ type: "IntentionDelete", v: 1, at, id: "i1" })).ok).toBe(true);
    expect(state.acl.intentions()).toEqual([]);
  });
});

describe("audit state", () => {
  const rec = (atMs: number, path: string) => ({ at: atMs, node: "n", accessor: "a", method: "PUT", path, route: "PUT /x", status: 200, remote: "127.0.0.1" });

  test("appends in order, keeps the newest maxRecords and nothing older than maxAge", async () => {
    await run({ type: "AuditAppend", v: 1, at: 10_000, records: [rec(1_000, "/a"), rec(2_000, "/b"), rec(3_000, "/c")], maxRecords: 1000, maxAgeMs: 60_000 });
    expect(state.acl.audit({ limit: 10 }).map((r) => r.path)).toEqual(["/c", "/b", "/a"]);
    await run({ type: "AuditAppend", v: 1, at: 10_000, records: [rec(4_000, "/d")], maxRecords: 2, maxAgeMs: 60_000 });
    expect(state.acl.audit({ limit: 10 }).map((r) => r.path)).toEqual(["/d", "/c"]);
    await run({ type: "AuditAppend", v: 1, at: 64_500, records: [rec(64_000, "/e")], maxRecords: 10, maxAgeMs: 61_000 });
    expect(state.acl.audit({ limit: 10 }).map((r) => r.path)).toEqual(["/e", "/d"]);
    expect(state.acl.audit({ limit: 10, sinceMs: 5_000 }).map((r) => r.path)).toEqual(["/e"]);
    expect(state.acl.audit({ limit: 10, path: "/d" }).map((r) => r.path)).toEqual(["/d"]);
  });
});
