// The catalog's commands, appliers and reads on a real SQLite store (no
// processes): row diffs, per-query indexes (B5), tombstones, DNS reads.
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
import type { CatalogCheckDef, CatalogServiceDef } from "../../core/state/domains/catalog.ts";
import { hostOf } from "../../core/state/domains/catalog-read.ts";

const dirs: string[] = [];
afterAll(async () => {
  await log?.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

let store: Store;
let log: RaftReplicator;
let state: StateReader;
const NODE = { id: "11111111-1111-4111-8111-111111111111", name: "n1", address: "10.0.0.1", datacenter: "dc1" };

beforeEach(async () => {
  const d = mkdtempSync(join(tmpdir(), "corral-catalog-"));
  dirs.push(d);
  store = await openStore(join(d, "state.db"));
  const fsm = new Fsm(store);
  await log?.close();
  log = testReplicator(store, fsm);
  state = createStateReader(store, fsm);
});

const svc = (id: string, name = "web", extra: Partial<CatalogServiceDef> = {}): CatalogServiceDef => ({
  id, name, tags: ["v1"], address: "", port: 8080, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {},
  enableTagOverride: false, ...extra,
});
const chk = (id: string, serviceId: string, status: CatalogCheckDef["status"] = "passing", output = ""): CatalogCheckDef => ({
  id, name: `check ${id}`, status, notes: "", output, serviceId, type: "ttl", definition: { TTL: "10s" },
});
const propose = async (c: Omit<Command, "v" | "at"> & { type: string }) => {
  const out = await log.propose({ v: 1, at: 1, ...c } as Command);
  expect(out.result.ok).toBe(true);
  return out.index;
};
const register = (s: CatalogServiceDef, checks: CatalogCheckDef[] = [], node = NODE) =>
  propose({ type: "RegisterService", node, service: s, checks } as never);
const sync = (services: CatalogServiceDef[], checks: CatalogCheckDef[], node = NODE) =>
  propose({ type: "SyncNodeServices", node, services, checks } as never);
const health = (name = "web", tags: string[] = []) => state.catalog.serviceInstances(name, { tags, withChecks: true });

describe("catalog state", () => {
  test("register, read back, index = the command's index", async () => {
    const i = await register(svc("web-1"), [chk("service:web-1", "web-1")]);
    const r = health();
    expect(r.index).toBe(i);
    expect(r.value).toHaveLength(1);
    expect(r.value[0]!.node).toMatchObject({ name: "n1", address: "10.0.0.1", status: "ready" });
    expect(r.value[0]!.checks.map((c) => c.checkId)).toEqual(["serfHealth", "service:web-1"]);
    expect(state.catalog.services().value).toEqual({ web: ["v1"] });
  });

  test("an unchanged re-register or sync moves no index (B5)", async () => {
    await register(svc("web-1"), [chk("c1", "web-1")]);
    const before = [health().index, state.catalog.services().index, state.catalog.node("n1").index];
    await register(svc("web-1"), [chk("c1", "web-1")]);
    await sync([svc("web-1")], [chk("c1", "web-1")]);
    expect([health().index, state.catalog.services().index, state.catalog.node("n1").index]).toEqual(before);
  });

  test("status changes move the health index; output-only changes are stored without moving it", async () => {
    await register(svc("web-1"), [chk("c1", "web-1", "critical")]);
    const i0 = health().index;
    await propose({ type: "UpdateCheckStatus", nodeId: NODE.id, checkId: "c1", status: "critical", output: "still bad" } as never);
    expect(health().index).toBe(i0);
    expect(health().value[0]!.checks[1]!.output).toBe("still bad");
    const i1 = await propose({ type: "UpdateCheckStatus", nodeId: NODE.id, checkId: "c1", status: "passing", output: "" } as never);
    expect(health().index).toBe(i1);
    // The catalog view ignores checks entirely.
    expect(state.catalog.serviceInstances("web").index).toBeLessThan(i1);
  });

  test("another service's change does not move this service's index", async () => {
    await register(svc("web-1"), [chk("c1", "web-1")]);
    await register(svc("db-1", "db"), [chk("c2", "db-1")]);
    const web = health().index;
    await propose({ type: "UpdateCheckStatus", nodeId: NODE.id, checkId: "c2", status: "critical", output: "" } as never);
    await propose({ type: "KVSet", key: "x", value: "", flags: 0 } as never);
    expect(health().index).toBe(web);
  });

  test("deregistering moves the index through a tombstone; a tag change moves a tag-filtered view", async () => {
    await register(svc("web-1"));
    await register(svc("web-2"));
    const tagged = health("web", ["v1"]).index;
    const i = await register(svc("web-2", "web", { tags: ["v2"] }));
    expect(health("web", ["v1"]).value.map((x) => x.service.serviceId)).toEqual(["web-1"]);
    expect(health("web", ["V1"]).index).toBe(i);
    expect(i).toBeGreaterThan(tagged);
    const d = await propose({ type: "DeregisterService", nodeId: NODE.id, serviceId: "web-2" } as never);
    expect(health().index).toBe(d);
    expect(state.catalog.services().index).toBe(d);
    expect(state.catalog.node("n1").index).toBe(d);
  });

  test("a rename tombstones the old name", async () => {
    await register(svc("x-1", "old"));
    const i = await register(svc("x-1", "new"));
    expect(state.catalog.serviceInstances("old").value).toEqual([]);
    expect(state.catalog.serviceInstances("old").index).toBe(i);
  });

  test("sync removes what the agent no longer has and keeps the rest untouched", async () => {
    await sync([svc("a"), svc("b")], [chk("ca", "a"), chk("cb", "b"), chk("node-check", "")]);
    const a = state.catalog.serviceInstances("web").value.find((x) => x.service.serviceId === "a")!;
    const s = await sync([svc("a")], [chk("ca", "a")]);
    const after = health();
    expect(after.value.map((x) => x.service.serviceId)).toEqual(["a"]);
    expect(after.value[0]!.service.modifyIndex).toBe(a.service.modifyIndex);
    expect(after.value[0]!.checks.map((c) => c.checkId)).toEqual(["serfHealth", "ca"]);
    expect(after.index).toBe(s);
  });

  test("a node-level check counts for every instance on the node", async () => {
    await sync([svc("a")], [chk("ca", "a"), chk("maint", "", "critical")]);
    expect(state.catalog.healthyInstances("web")).toEqual([]);
    const i = await propose({ type: "DeregisterCheck", nodeId: NODE.id, checkId: "maint" } as never);
    expect(health().index).toBe(i);
    expect(state.catalog.healthyInstances("WEB", "V1")).toEqual([
      { node: "n1", nodeAddress: "10.0.0.1", serviceAddress: "", port: 8080, tags: ["v1"], status: "passing", serviceId: "a", serviceName: "web", weights: { passing: 1, warning: 1 } },
    ]);
  });

  test("membership nodes win over registration-only ones; down nodes make instances critical", async () => {
    await register(svc("a"), [chk("ca", "a")]);
    expect(state.catalog.nodeByName("N1")?.address).toBe("10.0.0.1");
    await propose({
      type: "RegisterNode",
      node: { id: NODE.id, name: "n1", address: "10.0.0.9:7700", datacenter: "dc1", role: "agent", attributes: {}, resources: { cpuMhz: 1, cores: 1, memoryBytes: 1, diskBytes: 1 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: { rack: "r1" } },
    } as never);
    expect(state.catalog.nodes().value.map((n) => [n.name, n.address, n.meta])).toEqual([["n1", "10.0.0.9", { rack: "r1" }]]);
    expect(state.catalog.healthyInstances("web")).toHaveLength(1);
    const i = await propose({ type: "SetNodeStatus", nodeId: NODE.id, status: "down" } as never);
    expect(health().index).toBe(i);
    expect(health().value[0]!.checks[0]).toMatchObject({ checkId: "serfHealth", status: "critical" });
    expect(state.catalog.healthyInstances("web")).toEqual([]);
    expect(state.catalog.checksInState("critical").value.map((c) => c.checkId)).toEqual(["serfHealth"]);
  });

  test("refusals: checks of unknown services, unknown check updates", async () => {
    const bad = await log.propose({ v: 1, at: 1, type: "RegisterCheck", node: NODE, check: chk("c", "nope") } as Command);
    expect(bad.result).toMatchObject({ ok: false, code: "SERVICE_NOT_FOUND" });
    const upd = await log.propose({ v: 1, at: 1, type: "UpdateCheckStatus", nodeId: NODE.id, checkId: "zz", status: "passing", output: "" } as Command);
    expect(upd.result).toMatchObject({ ok: false, code: "CHECK_NOT_FOUND" });
  });

  test("node queries and hostOf", () => {
    expect(state.catalog.node("ghost").value).toBeNull();
    expect(state.catalog.node("ghost").index).toBeGreaterThan(0);
    expect(hostOf("10.0.0.1:7700")).toBe("10.0.0.1");
    expect(hostOf("[::1]:7700")).toBe("::1");
    expect(hostOf("example.com")).toBe("example.com");
  });
});
