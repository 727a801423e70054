// Canary deployments, the pure decisions: what one evaluation places and
// stops before and after promotion, when the deployment fails, blue/green,
// and when the watcher auto-promotes. Rows are built by hand.
import { describe, expect, test } from "bun:test";
import { evaluate } from "../../core/cluster/scheduling/evaluate.ts";
import { deploymentOutcome } from "../../core/cluster/scheduling/health.ts";
import { autoPromotions } from "../../core/cluster/scheduling/deployment-promote.ts";
import { promotionGroups, unpromotable } from "../../core/state/domains/deployments.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import type { DeploymentGroup } from "../../core/store/schema-jobs.ts";
import { job } from "./fixtures.ts";
import { parseJobSpec } from "../../core/scheduler/jobspec.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { alloc, dep, input, jobRow, old, spec, stable, v0, v1 } from "./canary-rows.ts";

describe("canary evaluation", () => {
  test("a first version places `count` and asks for no canaries (nothing to compare with)", () => {
    const out = evaluate(input({ job: jobRow(v0, 0, { stableVersion: null }) }));
    expect(out.commit.placements.length).toBe(2);
    expect(out.commit.placements.some((p) => p.canary)).toBe(false);
    expect(out.commit.deployment!.groups.g).toEqual({ desired: 2, autoRevert: false });
    expect(out.commit.v).toBe(1);
  });

  test("a destructive change places the canaries beside the old allocations and replaces nothing", () => {
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: old, deployments: [stable] }));
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.placements.length).toBe(1);
    const c = out.commit.placements[0]!;
    expect(c.canary).toBe(true);
    expect(c.taskGroupIndex).toBe(0);
    expect(c.groupHash).toBe(groupHash(v1, v1.groups[0]!));
    expect(c.deploymentId).toBe(out.commit.deployment!.id);
    expect(out.commit.deployment!.groups.g).toEqual({ desired: 2, autoRevert: false, canaries: 1, autoPromote: false });
    // Canary data raises the entry's version: a release before canaries stops rather than drop it.
    expect(out.commit.v).toBe(2);
  });

  test("while unpromoted: a healthy canary places nothing more and stops nothing", () => {
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const d1 = dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, canary], deployments: [d1, stable] }));
    expect(out.commit.placements).toEqual([]);
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.deployment).toBeUndefined();
  });

  test("a failed canary is not replaced while its deployment runs (its verdict fails the deployment); a lost one is", () => {
    const d1 = dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const failed = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1, clientStatus: "failed", health: "" });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, failed], deployments: [d1, stable] }));
    expect(out.commit.placements).toEqual([]);
    expect(out.commit.stops).toEqual([]);
    const lost = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1, clientStatus: "lost", desiredStatus: "stop", health: "" });
    const again = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, lost], deployments: [d1, stable] }));
    expect(again.commit.placements.map((p) => [p.canary, p.taskGroupIndex, p.deploymentId])).toEqual([[true, 0, "d1"]]);
  });

  test("a count raised with the change waits for the promotion (as Nomad places nothing but canaries meanwhile); a lost old allocation is still replaced", () => {
    const v1up = spec(3, "/bin/b", { canary: 1 });
    const first = evaluate(input({ job: jobRow(v1up, 1), jobAllocs: old, deployments: [stable] }));
    expect(first.commit.placements.map((p) => [p.taskGroupIndex, p.canary])).toEqual([[0, true]]);
    const canary = alloc("c0", "n2", 0, v1up, { deploymentId: "d1", jobVersion: 1 });
    const waiting = dep("d1", "running", 1, { desired: 3, desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const lostOld = { ...old[1]!, clientStatus: "lost" as const, desiredStatus: "stop" as const };
    const mid = evaluate(input({ job: jobRow(v1up, 1), jobAllocs: [old[0]!, lostOld, canary], deployments: [waiting, stable] }));
    expect(mid.commit.placements.map((p) => [p.taskGroupIndex, p.canary ?? false])).toEqual([[1, false]]);
    const promoted = dep("d1", "running", 1, { desired: 3, desiredCanaries: 1, placedCanaries: ["c0"], promoted: true });
    const after = evaluate(input({ job: jobRow(v1up, 1), jobAllocs: [...old, canary], deployments: [promoted, stable] }));
    expect(after.commit.placements.map((p) => p.taskGroupIndex).sort()).toEqual([1, 2]);
  });

  test("after promotion: the old allocation at the canary's index stops, the rest rolls max_parallel at a time", () => {
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const d1 = dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: true });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, canary], deployments: [d1, stable] }));
    expect(out.commit.stops.map((s) => s.allocId).sort()).toEqual(["a0", "a1"]);
    expect(out.commit.placements.length).toBe(1);
    expect(out.commit.placements[0]).toMatchObject({ taskGroupIndex: 1, previousAlloc: "a1", deploymentId: "d1" });
    expect(out.commit.placements[0]!.canary).toBeUndefined();
  });

  test("a failed deployment's canaries stop; the old allocations stay", () => {
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1, health: "unhealthy" });
    const d1 = dep("d1", "failed", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, canary], deployments: [d1, stable] }));
    expect(out.commit.stops.map((s) => s.allocId)).toEqual(["c0"]);
    expect(out.commit.placements).toEqual([]);
  });

  test("a failed canary is not rescheduled once its deployment failed", () => {
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1, clientStatus: "failed", health: "unhealthy" });
    const d1 = dep("d1", "failed", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, canary], deployments: [d1, stable] }));
    expect(out.commit.placements).toEqual([]);
    expect(out.commit.stops).toEqual([]);
  });

  test("a reverted job stops the canaries and opens a plain deployment", () => {
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const d1 = dep("d1", "failed", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v0, 2), jobAllocs: [...old, canary], deployments: [d1, stable] }));
    expect(out.commit.stops.map((s) => s.allocId)).toEqual(["c0"]);
    expect(out.commit.placements).toEqual([]);
    expect(out.commit.deployment!.groups.g.canaries).toBeUndefined();
  });

  test("a newer version supersedes a canary deployment: its canaries stop, new ones are placed", () => {
    const v2 = spec(2, "/bin/c", { canary: 1 });
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const d1 = dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v2, 2), jobAllocs: [...old, canary], deployments: [d1, stable] }));
    expect(out.commit.stops.map((s) => s.allocId)).toEqual(["c0"]);
    expect(out.commit.placements.map((p) => [p.canary, p.groupHash])).toEqual([[true, groupHash(v2, v2.groups[0]!)]]);
  });

  test("blue/green (canary = count): a full new set beside the old one; promotion stops every old allocation", () => {
    const g1 = spec(2, "/bin/b", { canary: 2 });
    const first = evaluate(input({ job: jobRow(g1, 1), jobAllocs: old, deployments: [stable] }));
    expect(first.commit.stops).toEqual([]);
    expect(first.commit.placements.map((p) => [p.taskGroupIndex, p.canary]).sort()).toEqual([[0, true], [1, true]]);
    const cs = [alloc("c0", "n1", 0, g1, { deploymentId: "d1" }), alloc("c1", "n2", 1, g1, { deploymentId: "d1" })];
    const d1 = dep("d1", "running", 1, { desiredCanaries: 2, placedCanaries: ["c0", "c1"], promoted: true });
    const out = evaluate(input({ job: jobRow(g1, 1), jobAllocs: [...old, ...cs], deployments: [d1, stable] }));
    expect(out.commit.stops.map((s) => s.allocId).sort()).toEqual(["a0", "a1"]);
    expect(out.commit.placements).toEqual([]);
  });

  test("a deployment with unpromoted canaries is not successful, however healthy", () => {
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const d1 = dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    expect(deploymentOutcome(d1, jobRow(v1, 1), [canary, alloc("b1", "n1", 1, v1, { deploymentId: "d1" })])).toBeUndefined();
    expect(deploymentOutcome({ ...d1, groups: { g: { ...d1.groups.g!, promoted: true } } }, jobRow(v1, 1), [canary, alloc("b1", "n1", 1, v1, { deploymentId: "d1" })])?.status).toBe("successful");
  });
});

describe("promotion rules", () => {
  const g = (over: Partial<DeploymentGroup>): DeploymentGroup => ({ desired: 2, placed: 1, healthy: 0, unhealthy: 0, autoRevert: false, desiredCanaries: 1, placedCanaries: ["c0"], promoted: false, ...over });
  const canaryWith = (health: string) => (id: string) => (id === "c0" ? alloc("c0", "n1", 0, v1, { health }) : undefined);

  test("a group promotes only when all its canaries are healthy", () => {
    expect(unpromotable("g", g({}), canaryWith(""))).toMatch(/0\/1 healthy canaries/);
    expect(unpromotable("g", g({}), canaryWith("healthy"))).toBeNull();
    expect(unpromotable("g", g({ desiredCanaries: 2 }), canaryWith("healthy"))).toMatch(/1\/2/);
  });

  test("which groups: named ones must exist and have canaries; none named means every unpromoted canary group", () => {
    const d = { groups: { g: g({}), h: g({ desiredCanaries: 0, placedCanaries: [] }) } };
    expect(promotionGroups(d, undefined)).toEqual({ groups: ["g"] });
    expect(promotionGroups(d, ["x"])).toEqual({ error: `deployment has no task group "x"` });
    expect(promotionGroups(d, ["h"])).toEqual({ error: `task group "h" has no canaries to promote` });
    expect(promotionGroups({ groups: { h: g({ desiredCanaries: 0 }) } }, undefined)).toEqual({ error: "deployment has no canaries to promote" });
  });

  test("auto_promote: once every waiting group asked for it and is healthy", () => {
    const healthy = canaryWith("healthy");
    expect(autoPromotions([dep("d1", "running", 1, g({ autoPromote: true }))], healthy).map((d) => d.id)).toEqual(["d1"]);
    expect(autoPromotions([dep("d1", "running", 1, g({ autoPromote: false }))], healthy)).toEqual([]);
    expect(autoPromotions([dep("d1", "running", 1, g({ autoPromote: true }))], canaryWith(""))).toEqual([]);
    expect(autoPromotions([dep("d1", "running", 1, g({ autoPromote: true, promoted: true }))], healthy)).toEqual([]);
  });
});

describe("jobspec: update.canary and update.auto_promote", () => {
  const doc = (update: string) => `id = "web"\n[[groups]]\nname = "g"\ncount = 3\n[groups.update]\n${update}\n[[groups.tasks]]\nname = "t"\ncommand = "/bin/true"\n`;

  test("normalized into the group's update strategy; absent ones leave the spec as before canaries", () => {
    const r = parseJobSpec(doc("canary = 2\nauto_promote = true"), "toml");
    expect(r.ok && r.job.groups[0]!.update).toMatchObject({ canary: 2, autoPromote: true });
    const plain = parseJobSpec(doc("max_parallel = 2"), "toml");
    expect(plain.ok && Object.keys(plain.job.groups[0]!.update).sort()).toEqual(["autoRevert", "healthyDeadlineMs", "maxParallel", "minHealthyTimeMs"]);
  });

  test("bad values are errors with their key path", () => {
    for (const [text, path] of [["canary = -1", "groups[0].update.canary"], ["canary = 1.5", "groups[0].update.canary"], [`auto_promote = "yes"`, "groups[0].update.auto_promote"]] as const) {
      const r = parseJobSpec(doc(text), "toml");
      expect(r.ok).toBe(false);
      expect(!r.ok && r.errors.map((e) => e.path)).toContain(path);
    }
  });
});

test("the canary example of docs/jobs.md parses as the text says", () => {
  const md = readFileSync(join(import.meta.dir, "../../docs/jobs.md"), "utf8");
  const section = md.slice(md.indexOf("### Canary deployments"));
  const toml = /```toml\n([\s\S]*?)```/.exec(section)![1]!;
  const r = parseJobSpec(toml, "toml");
  expect(r.ok && r.job.groups[0]!.update).toMatchObject({ canary: 1, autoRevert: true });
  expect(r.ok && r.job.groups[0]!.update.autoPromote).toBeUndefined();
});
