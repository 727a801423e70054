// Coordination with ACLs on (a real dev node): session routes need session
// rules on the session's node, a list is filtered, and every op of a
// transaction is decided on its own key: a denied op fails at its OpIndex
// with Consul's "Permission denied" and nothing of the transaction applies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let node = "";
afterAll(killAll);
beforeAll(async () => {
  n = await startAclNode();
  node = (await call(n.url, "GET", "/v1/agent/self", n.management)).body.Config.NodeName;
});

describe("coordination ACLs", () => {
  test("sessions need session write on their node; reads and lists follow session read", async () => {
    const writer = (await tokenWith(n, "sess-writer", `session "${node}" { policy = "write" }\nkey_prefix "app/" { policy = "write" }`)).secret;
    const keyOnly = (await tokenWith(n, "key-only", `key_prefix "app/" { policy = "write" }`)).secret;
    expect((await call(n.url, "PUT", "/v1/session/create", keyOnly, {})).status).toBe(403);
    const created = await call(n.url, "PUT", "/v1/session/create", writer, { Name: "w" });
    expect(created.status).toBe(200);
    const id = created.body.ID as string;
    expect((await call(n.url, "PUT", `/v1/session/destroy/${id}`, keyOnly)).status).toBe(403);
    expect((await call(n.url, "GET", `/v1/session/info/${id}`, keyOnly)).status).toBe(403);
    const listed = await call(n.url, "GET", "/v1/session/list", keyOnly);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([]);
    expect((await call(n.url, "GET", "/v1/session/list", writer)).body.map((s: { ID: string }) => s.ID)).toContain(id);
    expect((await call(n.url, "PUT", `/v1/kv/app/lock?acquire=${id}`, writer, "x")).body).toBe(true);
    expect((await call(n.url, "PUT", `/v1/kv/other/lock?acquire=${id}`, writer, "x")).status).toBe(403);
    expect((await call(n.url, "PUT", `/v1/session/renew/${id}`, writer)).status).toBe(200);
  });

  test("a transaction is decided op by op: a denied op is a 409 at its index and nothing applies", async () => {
    const t = (await tokenWith(n, "txn-app", `key_prefix "app/" { policy = "write" }\nkey_prefix "ro/" { policy = "read" }`)).secret;
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const denied = await call(n.url, "PUT", "/v1/txn", t, [
      { KV: { Verb: "set", Key: "app/a", Value: b64("1") } },
      { KV: { Verb: "set", Key: "ro/b", Value: b64("2") } },
      { KV: { Verb: "get", Key: "secret/c" } },
    ]);
    expect(denied.status).toBe(409);
    expect(denied.body).toEqual({ Results: null, Errors: [{ OpIndex: 1, What: "Permission denied" }, { OpIndex: 2, What: "Permission denied" }] });
    expect((await call(n.url, "GET", "/v1/kv/app/a", n.management)).status).toBe(404);
    const ok = await call(n.url, "PUT", "/v1/txn", t, [{ KV: { Verb: "set", Key: "app/a", Value: b64("1") } }, { KV: { Verb: "get-tree", Key: "ro/" } }]);
    expect(ok.status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/txn", undefined, [{ KV: { Verb: "get", Key: "app/a" } }])).status).toBe(409);
  });
});
