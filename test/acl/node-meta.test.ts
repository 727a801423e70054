// Node meta under ACLs (a real dev node, ACLs on, default deny): reading a
// node's meta needs node read on it, applying needs node write; no token, a
// read-only token and a token for another node are refused, and a refused
// apply changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "./helpers.ts";

let n: AclNode;
let nodeName: string;

beforeAll(async () => {
  n = await startAclNode(`\n[node]\nname = "meta-dev"\nmeta = { rack = "r1" }\n`);
  nodeName = "meta-dev";
}, 60_000);
afterAll(() => killAll());

const apply = (token: string | undefined, meta: Record<string, string | null>, q = "") => call(n.url, "POST", `/v1/client/metadata${q}`, token, { Meta: meta });
const read = (token: string | undefined, q = "") => call(n.url, "GET", `/v1/client/metadata${q}`, token);

describe("node meta and ACLs", () => {
  test("no token: read and apply refused", async () => {
    expect((await read(undefined)).status).toBe(403);
    expect((await apply(undefined, { rack: "evil" })).status).toBe(403);
    expect((await apply(undefined, { rack: "evil" }, `?node_id=${nodeName}`)).status).toBe(403);
  });

  test("node read: reads, may not apply", async () => {
    const t = await tokenWith(n, "node-reader", `node_prefix "" { policy = "read" }`);
    const r = await read(t.secret);
    expect(r.status).toBe(200);
    expect(r.body.Meta).toEqual({ rack: "r1" });
    expect((await apply(t.secret, { rack: "evil" })).status).toBe(403);
  });

  test("node write on another node: refused here, whichever way the node is named", async () => {
    const t = await tokenWith(n, "other-writer", `node "other" { policy = "write" }`);
    expect((await read(t.secret)).status).toBe(403);
    expect((await apply(t.secret, { rack: "evil" })).status).toBe(403);
    expect((await apply(t.secret, { rack: "evil" }, `?node_id=${nodeName}`)).status).toBe(403);
    // Named in the body (Nomad's NodeID): checked on that node too.
    expect((await call(n.url, "POST", "/v1/client/metadata", t.secret, { Meta: { rack: "evil" }, NodeID: nodeName })).status).toBe(403);
    // The body cannot redirect the change past the check on ?node_id.
    const sneaky = await call(n.url, "POST", "/v1/client/metadata?node_id=other", t.secret, { Meta: { rack: "evil" }, NodeID: nodeName });
    expect(sneaky.status).toBe(400);
  });

  test("node write on this node: applies; the refused attempts changed nothing before it", async () => {
    expect((await read(n.management)).body.Meta).toEqual({ rack: "r1" });
    const t = await tokenWith(n, "this-writer", `node "${nodeName}" { policy = "write" }`);
    const r = await apply(t.secret, { rack: "r2" });
    expect(r.status).toBe(200);
    expect(r.body.Meta).toEqual({ rack: "r2" });
    const nodes = await call(n.url, "GET", "/v1/nodes", n.management);
    expect(nodes.body.find((x: any) => x.name === nodeName).meta).toEqual({ rack: "r2" });
    // Nomad's shape: the node in the body's NodeID.
    const nomad = await call(n.url, "POST", "/v1/client/metadata", t.secret, { Meta: { zone: "a" }, NodeID: nodeName });
    expect(nomad.status).toBe(200);
    expect(nomad.body.Meta).toEqual({ rack: "r2", zone: "a" });
  });
});
