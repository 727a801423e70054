// The pure rules behind the read side (security issue 13): which events of
// the stream a token may see, the subtree check that decides whether a KV
// prefix can hide anything, and the read scope's "partial" mark, which must
// follow the token's rules, never the data.
import { describe, expect, test } from "bun:test";
import { eventVisible, type EventNames } from "../../core/acl/event-rules.ts";
import { compileAuthorizer } from "../../core/acl/policy.ts";
import { parseRules } from "../../core/acl/rules.ts";
import { ReadScope } from "../../core/acl/read-scope.ts";
import { eventsOf, type ClusterEvent } from "../../core/state/events.ts";

function authz(rules: string, defaultAllow = false) {
  return compileAuthorizer({ policies: [parseRules(rules)], management: false, defaultAllow });
}

const names: EventNames = {
  jobOfAlloc: (id) => ({ "a-pay": "payroll", "a-web": "web" })[id],
  nodeName: (id) => ({ "n-1": "node-1" })[id],
};

const ev = (topic: ClusterEvent["topic"], type: string, payload: Record<string, unknown>): ClusterEvent => ({ topic, type, at: 0, payload });

describe("event rules: each event by the rule of what it describes", () => {
  const narrow = authz([
    'event_prefix "" { policy = "read" }', 'key_prefix "app/" { policy = "read" }', 'service "web" { policy = "read" }',
    'node "node-1" { policy = "read" }', 'job "web" { policy = "read" }', 'plugin "dns" { policy = "read" }',
  ].join("\n"));
  const cases: [string, ClusterEvent, boolean][] = [
    ["a readable key", ev("kv", "KeyWritten", { key: "app/x" }), true],
    ["a hidden key", ev("kv", "KeyWritten", { key: "secret/x" }), false],
    ["a readable service", ev("service", "ServiceRegistered", { node: "node-1", name: "web" }), true],
    ["a hidden service", ev("service", "ServiceRegistered", { node: "node-1", name: "vault" }), false],
    ["a service deregistered by id only", ev("service", "ServiceDeregistered", { nodeId: "n-1", serviceId: "web-1" }), false],
    ["a sync summary (counts every service)", ev("service", "ServicesSynced", { node: "node-1", services: 3 }), false],
    ["a check of a readable service", ev("check", "CheckRegistered", { node: "node-1", serviceId: "web-1", serviceName: "web" }), true],
    ["a check of a hidden service", ev("check", "CheckRegistered", { node: "node-1", serviceId: "vault-1", serviceName: "vault" }), false],
    ["a check status by check id (whose?)", ev("check", "CheckStatusChanged", { nodeId: "n-1", checkId: "vault-ttl", status: "critical" }), false],
    ["a node check on a readable node", ev("check", "CheckRegistered", { node: "node-1", serviceId: "" }), true],
    ["a node check on a hidden node", ev("check", "CheckRegistered", { node: "node-2", serviceId: "" }), false],
    ["a readable node", ev("node", "NodeStatusChanged", { name: "node-1" }), true],
    ["a node by id, looked up", ev("node", "NodeDrainStarted", { id: "n-1" }), true],
    ["a hidden node", ev("node", "NodeRegistered", { name: "node-2" }), false],
    ["a readable job", ev("job", "JobRegistered", { jobId: "web" }), true],
    ["a hidden job", ev("job", "JobRegistered", { jobId: "payroll" }), false],
    ["an allocation of a hidden job, by alloc id", ev("allocation", "AllocationStatusReported", { allocId: "a-pay" }), false],
    ["an allocation of a readable job, by alloc id", ev("allocation", "AllocationStatusReported", { allocId: "a-web" }), true],
    ["an allocation nobody can place", ev("allocation", "AllocationHealth", { allocId: "gone" }), false],
    ["a leader election (operator read)", ev("leader", "LeaderElected", { leader: "x" }), false],
    ["a readable plugin", ev("plugin", "PluginStateChanged", { name: "dns" }), true],
    ["a hidden plugin", ev("plugin", "PluginStateChanged", { name: "exec" }), false],
    ["a reset (no data)", ev("reset", "StateRestored", {}), true],
  ];
  for (const [what, e, visible] of cases) {
    test(`${what}: ${visible ? "shown" : "hidden"}`, () => expect(eventVisible(e, narrow, names)).toBe(visible));
  }

  test("a token that reads everything sees every event", () => {
    const all = authz('key_prefix "" { policy = "read" }\nservice_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }\njob_prefix "" { policy = "read" }\nplugin_prefix "" { policy = "read" }\noperator = "read"');
    for (const [, e] of cases) expect(eventVisible(e, all, names)).toBe(true);
  });

  test("a service's check events carry the service name the filter needs", () => {
    const events = eventsOf(7, {
      type: "RegisterService", v: 1, at: 0,
      node: { id: "n-1", name: "node-1" },
      service: { id: "vault-1", name: "vault" },
      checks: [{ id: "vault-ttl", name: "ttl", status: "critical", serviceId: "vault-1" }],
    } as never);
    const check = events.find((e) => e.topic === "check")!;
    expect(check.payload.serviceName).toBe("vault");
    expect(eventVisible(check, narrow, names)).toBe(false);
  });
});

describe("subtree reads (can a prefix hide anything?)", () => {
  test("an exact rule covers that name only: names below it fall to the default", () => {
    const a = authz('key "secret" { policy = "read" }');
    expect(a.allowed("key", "secret", "read")).toBe(true);
    expect(a.allowedUnder("key", "secret", "read")).toBe(false);
    expect(authz('key_prefix "secret" { policy = "read" }').allowedUnder("key", "secret", "read")).toBe(true);
    expect(authz('key "secret" { policy = "read" }', true).allowedUnder("key", "secret", "read")).toBe(true);
  });
});

describe("the read scope's partial mark follows the rules, not the data", () => {
  test("keep marks partial whenever the rules could hide, even when nothing was hidden", () => {
    const scope = new ReadScope(authz('key_prefix "app/" { policy = "read" }'));
    expect(scope.keep([{ k: "app/a" }], "key", (e) => e.k)).toEqual([{ k: "app/a" }]);
    expect(scope.partial).toBe(true);
    const under = new ReadScope(authz('key_prefix "app/" { policy = "read" }'));
    expect(under.keepUnder([{ k: "app/a" }], "key", "app/", (e) => e.k)).toHaveLength(1);
    expect(under.partial).toBe(false);
    expect(under.keepUnder([{ k: "app/a" }, { k: "b" }], "key", "", (e) => e.k)).toEqual([{ k: "app/a" }]);
    expect(under.partial).toBe(true);
  });
});
