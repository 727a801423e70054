// The scheduler's rejection reasons as Nomad's FailedTGAllocs, and the text
// of the "Placement Failure" block (core/scheduler/placement-failure.ts),
// from real schedule() runs: every reason a check gives lands in the bucket
// Nomad would put it in.
import { describe, expect, test } from "bun:test";
import { schedule } from "../../core/scheduler/index.ts";
import { classifyReason, placementFailureText, toFailedTGAllocs } from "../../core/scheduler/placement-failure.ts";
import { alloc, job, node } from "./helpers.ts";

describe("placement failures in Nomad's shape", () => {
  test("constraints, node status, cpu, memory, distinct_hosts and ports each land in their bucket", () => {
    const nodes = [
      node("n1", { attributes: { "os.name": "linux", "cpu.arch": "arm64" } }), // filtered by the arch constraint
      node("n2", { status: "draining" }),
      node("n3", { cpu: 500 }), // cpu exhausted
      node("n4", { mem: 512 }), // memory exhausted
      node("n5"), // takes one; distinct_hosts keeps the second off it
    ];
    const plan = schedule({ nodes, allocations: [] }, job({ count: 3, constraints: [{ attribute: "${attr.cpu.arch}", value: "amd64" }, { operator: "distinct_hosts" }] }), "e1");
    expect(plan.placements.map((p) => p.nodeId)).toEqual(["n5"]);
    const m = toFailedTGAllocs(plan.failedGroups).g!;
    expect(m).toEqual({
      NodesEvaluated: 5, NodesFiltered: 3, NodesExhausted: 2,
      ConstraintFiltered: { "${attr.cpu.arch} = amd64": 1, distinct_hosts: 1 },
      StatusFiltered: { draining: 1 },
      DimensionExhausted: { cpu: 1, memory: 1 },
      Missing: 2, CoalescedFailures: 1,
    });
    expect(placementFailureText({ g: m })).toEqual([
      'Task Group "g" (failed to place 2 allocations):',
      "  * 5 nodes evaluated: 3 filtered, 2 exhausted",
      '  * Node status "draining": 1 node skipped',
      "  * Constraint `${attr.cpu.arch} = amd64`: 1 node excluded by filter",
      "  * Constraint `distinct_hosts`: 1 node excluded by filter",
      "  * Resources exhausted on 2 nodes",
      '  * Dimension "cpu" exhausted on 1 node',
      '  * Dimension "memory" exhausted on 1 node',
    ]);
  });

  test("a static port in use is a network dimension; a system job's per-node failures add up", () => {
    const used = alloc("n1", { ports: [8080], cpu: 10, mem: 10 });
    const plan = schedule({ nodes: [node("n1")], allocations: [used] }, job({ ports: { http: { static: 8080 } } }), "e2");
    expect(toFailedTGAllocs(plan.failedGroups).g!.DimensionExhausted).toEqual({ "network: static port 8080 in use": 1 });
    const sys = schedule({ nodes: [node("a", { mem: 256 }), node("b", { mem: 256 }), node("c")], allocations: [] }, job({ type: "system", mem: 512 }), "e3");
    expect(toFailedTGAllocs(sys.failedGroups).g).toMatchObject({ NodesEvaluated: 2, NodesExhausted: 2, DimensionExhausted: { memory: 2 }, Missing: 2 });
  });

  test("reason texts", () => {
    expect(classifyReason("node web-3: memory exhausted")).toEqual({ bucket: "dimension", key: "memory" });
    expect(classifyReason("driver: raw mode is off on the node ([plugins.exec] allow_raw = false)").bucket).toBe("constraint");
    expect(classifyReason("node down")).toEqual({ bucket: "status", key: "down" });
    expect(classifyReason("dynamic port range exhausted")).toEqual({ bucket: "dimension", key: "network: dynamic port range exhausted" });
  });

  test("no ready node at all says so", () => {
    const plan = schedule({ nodes: [], allocations: [] }, job(), "e4");
    expect(placementFailureText(toFailedTGAllocs(plan.failedGroups)).at(-1)).toBe("  * No node is ready to run it (see `corral nodes`)");
  });
});
