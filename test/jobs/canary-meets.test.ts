// Where canaries meet the other workload features (pure, rows by hand):
// an operator's `alloc stop` of a canary, an in-place change and a
// constraint change registered while canaries wait, and what `job plan`
// says meanwhile.
import { describe, expect, test } from "bun:test";
import { evaluate } from "../../core/cluster/scheduling/evaluate.ts";
import { annotatePlan } from "../../core/cluster/scheduling/plan-annotate.ts";
import { job } from "./fixtures.ts";

import { alloc, dep, input, jobRow, node, old, spec, stable, v0, v1 } from "./canary-rows.ts";

describe("canaries meet in-place updates, alloc stop and plan", () => {
  const d1 = () => dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });

  test("alloc stop of a waiting canary: a new canary of the same deployment is placed, the old allocations stay", () => {
    const stopped = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1, desiredStatus: "stop", desiredDescription: "stopped by an operator (alloc stop)" });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, stopped], deployments: [d1(), stable] }));
    expect(out.commit.placements.map((p) => [p.canary, p.taskGroupIndex, p.deploymentId])).toEqual([[true, 0, "d1"]]);
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.inPlace ?? []).toEqual([]);
  });

  test("an in-place change (restart policy) registered while canaries wait: the waiting deployment is superseded, its canary stops, a new canary is placed; the old allocations stay", () => {
    const v2 = spec(2, "/bin/b", { canary: 1 });
    v2.groups[0]!.restart = { ...v2.groups[0]!.restart, attempts: 7 };
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const out = evaluate(input({ job: jobRow(v2, 2), jobAllocs: [...old, canary], deployments: [d1(), stable] }));
    expect(out.commit.stops.map((s) => s.allocId)).toEqual(["c0"]);
    expect(out.commit.placements.map((p) => p.canary)).toEqual([true]);
    expect(out.commit.deployment?.groups.g?.canaries).toBe(1);
    // The old allocations' tasks differ from v2: not in place, not replaced either (they wait for the promotion).
    expect(out.commit.inPlace ?? []).toEqual([]);
  });

  test("a constraint change while canaries wait does not move the old allocations (their tasks are outdated: the promotion replaces them)", () => {
    const v2 = spec(2, "/bin/b", { canary: 1 });
    v2.groups[0]!.constraints = [{ attribute: "${node.unique.name}", operator: "=", value: "n1" }];
    const canary = alloc("c0", "n1", 0, v2, { deploymentId: "d2", jobVersion: 2 });
    const d2 = dep("d2", "running", 2, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v2, 2), jobAllocs: [...old, canary], deployments: [d2, stable] }));
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.placements).toEqual([]);
  });

  test("plan while canaries are placed for the first time: 1 canary, the outdated ones ignored (not create/destroy)", () => {
    const out = evaluate(input({ job: jobRow(v0, 0), jobAllocs: old, deployments: [stable] }));
    expect(out.commit.placements).toEqual([]);
    const planned = evaluate(input({ job: jobRow(v1, 1), jobAllocs: old, deployments: [stable] }));
    expect(annotatePlan(v1, old, planned).groups).toEqual({ g: { canary: 1, ignore: 2 } });
    // Without canaries the same change replaces both (and says so).
    const plain = spec(2, "/bin/b");
    const rolled = evaluate(input({ job: jobRow(plain, 1), jobAllocs: old, deployments: [stable] }));
    expect(annotatePlan(plain, old, rolled).groups).toEqual({ g: { "create/destroy update": 2 } });
  });
});
