import { describe, expect, test } from "bun:test";
import { adjustNode } from "../../core/scheduler/eval-context.ts";
import { constraintsMatch } from "../../core/scheduler/feasibility/constraints.ts";
import { distinctHosts } from "../../core/scheduler/feasibility/distinct-hosts.ts";
import { nodeReady } from "../../core/scheduler/feasibility/node-status.ts";
import { portsFree } from "../../core/scheduler/feasibility/ports.ts";
import { resourcesFit } from "../../core/scheduler/feasibility/resources.ts";
import { schedule } from "../../core/scheduler/schedule.ts";
import { alloc, evalFixture, job, node } from "./helpers.ts";

describe("node-status", () => {
  test("only ready nodes pass", () => {
    const f = evalFixture([node("a"), node("b", { status: "down" }), node("c", { status: "draining" })], [], job());
    expect(nodeReady(f.node("a"), f.ask, f.ctx)).toBe(true);
    expect(nodeReady(f.node("b"), f.ask, f.ctx)).toBe("node down");
    expect(nodeReady(f.node("c"), f.ask, f.ctx)).toBe("node draining");
  });
});

describe("resources", () => {
  test("free = capacity − reserved − placed, per dimension", () => {
    const nodes = [
      node("a", { cpu: 4000, mem: 4096, reserved: { cpuMhz: 500, memoryMb: 0 } }),
      node("b", { cpu: 4000, mem: 4096 }),
    ];
    const f = evalFixture(nodes, [alloc("b", { cpu: 1000, mem: 3500 })], job({ cpu: 3000, mem: 1000 }));
    expect(resourcesFit(f.node("a"), f.ask, f.ctx)).toBe(true); // 3500 MHz free
    expect(resourcesFit(f.node("b"), f.ask, f.ctx)).toBe("memory exhausted"); // 596 MB free
    adjustNode(f.ctx, f.node("a"), { cpuMhz: 600, memoryMb: 0 }, [], 1); // this plan placed something
    expect(resourcesFit(f.node("a"), f.ask, f.ctx)).toBe("cpu exhausted");
  });

  test("terminal allocations hold nothing", () => {
    const f = evalFixture([node("a", { mem: 2048 })], [alloc("a", { mem: 2048, status: "complete" })], job({ mem: 2048 }));
    expect(resourcesFit(f.node("a"), f.ask, f.ctx)).toBe(true);
  });
});

describe("constraints", () => {
  const nodes = [
    node("a", { attributes: { "os.name": "linux", "kernel.version": "6.1.0" }, meta: { rack: "r1" } }),
    node("b", { attributes: { "os.name": "darwin", "kernel.version": "5.4.0-91-generic" }, meta: { rack: "x7" } }),
    node("c", { attributes: {}, meta: {} }),
  ];
  const verdicts = (constraints: unknown[]) => {
    const f = evalFixture(nodes, [], job({ constraints }));
    return ["a", "b", "c"].map((id) => constraintsMatch(f.node(id), f.ask, f.ctx));
  };

  test("= needs the attribute present and equal", () => {
    expect(verdicts([{ attribute: "${attr.os.name}", value: "linux" }])).toEqual([
      true,
      "constraint ${attr.os.name} = linux",
      "constraint ${attr.os.name} = linux",
    ]);
  });

  test("!= holds when the attribute is missing", () => {
    expect(verdicts([{ attribute: "${attr.os.name}", operator: "!=", value: "darwin" }])).toEqual([true, "constraint ${attr.os.name} != darwin", true]);
  });

  test("regexp on meta", () => {
    expect(verdicts([{ attribute: "${meta.rack}", operator: "regexp", value: "^r[0-9]+$" }]).map((v) => v === true)).toEqual([true, false, false]);
  });

  test("version ranges", () => {
    const ok = (range: string) => verdicts([{ attribute: "${attr.kernel.version}", operator: "version", value: range }]).map((v) => v === true);
    expect(ok(">= 5.10, < 7")).toEqual([true, false, false]);
    expect(ok("~> 5.3")).toEqual([false, true, false]);
    expect(ok(">= 5.4")).toEqual([true, false, false]); // a prerelease sorts before its release
    expect(ok("< 5.4.0")).toEqual([false, true, false]); // 5.4.0-91-generic is a prerelease of 5.4.0
    expect(ok("!= 6.1")).toEqual([false, true, false]);
  });

  test("node fields and job-level constraints", () => {
    const f = evalFixture(nodes, [], job({ jobConstraints: [{ attribute: "${node.name}", operator: "regexp", value: "^[ab]$" }], constraints: [{ attribute: "${meta.rack}", value: "r1" }] }));
    expect(["a", "b", "c"].map((id) => constraintsMatch(f.node(id), f.ask, f.ctx))).toEqual([
      true,
      "constraint ${meta.rack} = r1",
      "constraint ${node.name} regexp ^[ab]$",
    ]);
  });
});

describe("ports", () => {
  test("a static port held on the node rejects it", () => {
    const f = evalFixture([node("a"), node("b")], [alloc("a", { ports: [8080] })], job({ ports: { http: { static: 8080 } } }));
    expect(portsFree(f.node("a"), f.ask, f.ctx)).toBe("static port 8080 in use");
    expect(portsFree(f.node("b"), f.ask, f.ctx)).toBe(true);
  });

  test("the dynamic range can run out", () => {
    const f = evalFixture([node("a")], [alloc("a", { ports: [30000, 30001] })], job({ ports: { a: {}, b: {} } }), { portRange: { min: 30000, max: 30002 } });
    expect(portsFree(f.node("a"), f.ask, f.ctx)).toBe("dynamic port range exhausted");
  });

  test("static port conflicts: two copies need two nodes; a third fails", () => {
    const plan = schedule({ nodes: [node("a"), node("b")], allocations: [] }, job({ count: 3, cpu: 100, mem: 64, ports: { http: { static: 8080 } } }), "e1");
    expect(new Set(plan.placements.map((p) => p.nodeId))).toEqual(new Set(["a", "b"]));
    expect(plan.placements[0]!.ports).toEqual([{ task: "t", label: "http", value: 8080, static: true }]);
    expect(plan.failedGroups[0]).toMatchObject({ group: "g", missing: 1 });
    expect(plan.failedGroups[0]!.metrics.reasons).toEqual({ "static port 8080 in use": 2 });
  });

  test("dynamic ports come from the range and avoid ports in use", () => {
    const held = Array.from({ length: 9 }, (_, i) => 20000 + i);
    const plan = schedule(
      { nodes: [node("a")], allocations: [alloc("a", { ports: held })] },
      job({ count: 1, ports: { x: {} } }),
      "e1",
      { portRange: { min: 20000, max: 20009 } },
    );
    expect(plan.placements[0]!.ports[0]!.value).toBe(20009);
  });
});

describe("distinct_hosts", () => {
  test("rejects nodes already running the group", () => {
    const j = job({ id: "web", constraints: [{ operator: "distinct_hosts" }] });
    const f = evalFixture([node("a"), node("b")], [alloc("a", { jobId: "web", group: "g" })], j);
    expect(distinctHosts(f.node("a"), f.ask, f.ctx)).toBe("distinct_hosts: group already on node");
    expect(distinctHosts(f.node("b"), f.ask, f.ctx)).toBe(true);
  });

  test("schedule places at most one per node and reports the rest", () => {
    const plan = schedule(
      { nodes: [node("a"), node("b"), node("c")], allocations: [] },
      job({ count: 4, cpu: 100, mem: 64, constraints: [{ operator: "distinct_hosts" }] }),
      "e1",
    );
    expect(plan.placements.map((p) => p.nodeId).sort()).toEqual(["a", "b", "c"]);
    expect(plan.failedGroups).toHaveLength(1);
    expect(plan.failedGroups[0]!.metrics.byCheck).toEqual({ "distinct-hosts": 3 });
    expect(plan.blocked).toBe(true);
  });
});
