// eventsOf: which events each committed command produces, and the topic filter.
import { describe, expect, test } from "bun:test";
import { eventsOf, matchesTopics, TOPICS, type ClusterEvent } from "../../core/state/events.ts";
import type { Command } from "../../core/state/commands.ts";

const node = { id: "n-1", name: "web-1", address: "10.0.0.1:7700", datacenter: "dc1" };
const check = { id: "c1", name: "http", status: "passing" as const, notes: "", output: "", serviceId: "api", type: "http", definition: {} };

describe("eventsOf", () => {
  test("node commands carry id, name, status; the index and the proposer's time", () => {
    const reg: Command = {
      type: "RegisterNode", v: 1, at: 1000,
      node: { ...node, role: "agent", attributes: {}, resources: { cpuMhz: 1, cores: 1, memoryBytes: 1, diskBytes: 1 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {} },
    };
    expect(eventsOf(7, reg)).toEqual([{
      index: 7, topic: "node", type: "NodeRegistered", at: 1000,
      payload: { id: "n-1", name: "web-1", address: "10.0.0.1:7700", datacenter: "dc1", role: "agent", status: "ready" },
    }]);
    expect(eventsOf(8, { type: "SetNodeStatus", v: 1, at: 2, nodeId: "n-1", name: "web-1", status: "down", reason: "silent" })[0]).toMatchObject({
      topic: "node", type: "NodeStatusChanged", payload: { id: "n-1", name: "web-1", status: "down", reason: "silent" },
    });
    // Older entries have no name: the key is left out, not null.
    expect(eventsOf(9, { type: "SetNodeStatus", v: 1, at: 2, nodeId: "n-1", status: "ready" })[0]!.payload).toEqual({ id: "n-1", status: "ready" });
    expect(eventsOf(10, { type: "SetNodeHealth", v: 1, at: 3, nodeId: "n-1", name: "web-1", status: "warning", reason: "cpu" })[0]).toMatchObject({
      topic: "node", type: "NodeHealthChanged", payload: { id: "n-1", name: "web-1", health: "warning", reason: "cpu" },
    });
    expect(eventsOf(11, { type: "DeregisterNode", v: 1, at: 3, nodeId: "n-1" })[0]).toMatchObject({ topic: "node", type: "NodeDeregistered" });
  });

  test("kv events name the key and the operation, never the value", () => {
    const set = eventsOf(3, { type: "KVSet", v: 1, at: 1, key: "app/db", value: Buffer.from("s3cret").toString("base64"), flags: 0 });
    expect(set).toEqual([{ index: 3, topic: "kv", type: "KeyWritten", at: 1, payload: { key: "app/db", operation: "set", flags: 0 } }]);
    expect(JSON.stringify(set)).not.toContain(Buffer.from("s3cret").toString("base64"));
    expect(eventsOf(4, { type: "KVSet", v: 1, at: 1, key: "k", value: "", flags: 0, cas: 3 })[0]!.payload.cas).toBe(3);
    expect(eventsOf(5, { type: "KVDelete", v: 1, at: 1, key: "app/", recurse: true })[0]!.payload).toEqual({ key: "app/", operation: "delete-tree" });
    expect(eventsOf(6, { type: "KVDelete", v: 1, at: 1, key: "k", recurse: false })[0]!.payload).toEqual({ key: "k", operation: "delete" });
  });

  test("leader, catalog and restore", () => {
    expect(eventsOf(2, { type: "LeaderElected", v: 1, at: 5, leader: "10.0.0.1:7700", term: 4 })).toEqual([
      { index: 2, topic: "leader", type: "LeaderElected", at: 5, payload: { leader: "10.0.0.1:7700", term: 4 } },
    ]);
    const svc = { id: "api", name: "api", tags: ["v1"], address: "", port: 80, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false };
    const reg = eventsOf(12, { type: "RegisterService", v: 1, at: 1, node, service: svc, checks: [check] });
    expect(reg.map((e) => [e.topic, e.type, e.index])).toEqual([["service", "ServiceRegistered", 12], ["check", "CheckRegistered", 12]]);
    expect(reg[0]!.payload).toMatchObject({ node: "web-1", serviceId: "api", name: "api", port: 80, tags: ["v1"] });
    expect(eventsOf(13, { type: "UpdateCheckStatus", v: 1, at: 1, nodeId: "n-1", checkId: "c1", status: "critical", output: "boom" })[0]).toMatchObject({
      topic: "check", type: "CheckStatusChanged", payload: { nodeId: "n-1", checkId: "c1", status: "critical" },
    });
    const sync = eventsOf(14, { type: "SyncNodeServices", v: 1, at: 1, node, services: [svc], checks: [check, check] });
    expect(sync.map((e) => e.payload)).toEqual([
      { nodeId: "n-1", node: "web-1", services: 1 },
      { nodeId: "n-1", node: "web-1", checks: 2 },
    ]);
    expect(eventsOf(15, { type: "RestoreState", v: 1, at: 1, data: "{}" })).toMatchObject([{ topic: "reset", type: "StateRestored" }]);
  });

  test("no events for no-ops and for command types this version does not know", () => {
    expect(eventsOf(1, { type: "Noop", v: 1, at: 0 })).toEqual([]);
    expect(eventsOf(1, { type: "FromTheFuture", v: 1, at: 0 } as never)).toEqual([]);
  });
});

describe("matchesTopics", () => {
  const ev = (topic: ClusterEvent["topic"]): ClusterEvent => ({ topic, type: "x", at: 0, payload: {} });
  test("null passes everything; a set passes its topics; resets always pass", () => {
    for (const t of TOPICS) expect(matchesTopics(ev(t), null)).toBe(true);
    const only = new Set(["kv", "node"] as const);
    expect(matchesTopics(ev("kv"), only)).toBe(true);
    expect(matchesTopics(ev("leader"), only)).toBe(false);
    expect(matchesTopics(ev("reset"), only)).toBe(true);
  });
});
