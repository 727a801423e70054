// Pure units of job versions: the field diff (Nomad's +/-/~ plan output)
// and which changes replace allocations (tasksUpdated) against the group
// hash the scheduler stores on allocations.
import { describe, expect, test } from "bun:test";
import { parseJobSpec, type Job } from "../../core/scheduler/index.ts";
import { diffJobs } from "../../core/scheduler/job-diff.ts";
import { formatJobDiff } from "../../core/scheduler/job-diff-format.ts";
import { allocUpdateKind, tasksUpdated } from "../../core/scheduler/update-kind.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import { inPlaceUpdates } from "../../core/cluster/scheduling/inplace.ts";
import { registerRefusal } from "../../core/state/domains/job-guards.ts";

const BASE = `
id = "web"
type = "service"
priority = 50

[[groups]]
name = "front"
count = 2

  [[groups.tasks]]
  name = "server"
  command = "/bin/sh"
  args = ["-c", "sleep 1000"]
  env = { MODE = "a" }
  resources = { cpu = 100, memory = 64 }
`;

function job(text = BASE): Job {
  const r = parseJobSpec(text, "toml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.job;
}

function edit(f: (j: Job) => void): Job {
  const j = structuredClone(job());
  f(j);
  return j;
}

describe("diffJobs", () => {
  test("an unchanged job is None with no fields", () => {
    const d = diffJobs(job(), job());
    expect(d.Type).toBe("None");
    expect(d.TaskGroups.every((g) => g.Type === "None" && g.Fields.length === 0 && g.Tasks.length === 0)).toBe(true);
  });

  test("a new job is Added, every field of its group added", () => {
    const d = diffJobs(undefined, job());
    expect(d.Type).toBe("Added");
    expect(d.TaskGroups[0]!.Type).toBe("Added");
    expect(d.TaskGroups[0]!.Fields.find((f) => f.Name === "Count")).toEqual({ Type: "Added", Name: "Count", Old: "", New: "2" });
  });

  test("count and priority edits are fields, nested by group; a count raise forces create", () => {
    const d = diffJobs(job(), edit((j) => { j.priority = 70; j.groups[0]!.count = 3; }));
    expect(d.Type).toBe("Edited");
    expect(d.Fields).toEqual([{ Type: "Edited", Name: "Priority", Old: "50", New: "70" }]);
    const g = d.TaskGroups[0]!;
    expect(g.Type).toBe("Edited");
    expect(g.Fields).toEqual([{ Type: "Edited", Name: "Count", Old: "2", New: "3", Annotations: ["forces create"] }]);
    expect(g.Tasks).toEqual([]);
  });

  test("task edits: changed arg, added env key, removed env key; the task is annotated destructive", () => {
    const d = diffJobs(job(), edit((j) => {
      const t = j.groups[0]!.tasks[0]!;
      t.args = ["-c", "sleep 2000"];
      t.env = { LEVEL: "debug" };
    }));
    const t = d.TaskGroups[0]!.Tasks[0]!;
    expect(t.Type).toBe("Edited");
    expect(t.Annotations).toEqual(["forces create/destroy update"]);
    expect(t.Fields).toContainEqual({ Type: "Edited", Name: "Args[1]", Old: "sleep 1000", New: "sleep 2000" });
    const env = t.Objects.find((o) => o.Name === "Env")!;
    expect(env.Fields).toEqual([
      { Type: "Added", Name: "LEVEL", Old: "", New: "debug" },
      { Type: "Deleted", Name: "MODE", Old: "a", New: "" },
    ]);
  });

  test("constraints are objects: an added one is Added with its fields", () => {
    const d = diffJobs(job(), edit((j) => { j.groups[0]!.constraints.push({ attribute: "${attr.os.name}", operator: "=", value: "linux" }); }));
    const o = d.TaskGroups[0]!.Objects.find((x) => x.Name === "Constraints[0]")!;
    expect(o.Type).toBe("Added");
    expect(o.Fields.map((f) => `${f.Name}=${f.New}`)).toEqual(["Attribute=${attr.os.name}", "Operator==", "Value=linux"]);
  });

  test("a group added and one removed", () => {
    const d = diffJobs(job(), edit((j) => { j.groups[0]!.name = "back"; }));
    expect(d.TaskGroups.map((g) => `${g.Name}:${g.Type}`).sort()).toEqual(["back:Added", "front:Deleted"]);
  });

  test("the text format uses Nomad's markers", () => {
    const d = diffJobs(job(), edit((j) => { j.groups[0]!.count = 1; j.groups[0]!.tasks[0]!.command = "/bin/bash"; }));
    d.TaskGroups[0]!.Updates = { "create/destroy update": 1, destroy: 1 };
    const text = formatJobDiff(d).join("\n");
    expect(text).toContain('+/- Job: "web"');
    expect(text).toContain('+/- Task Group: "front" (1 destroy, 1 create/destroy update)');
    expect(text).toContain('  +/- Count: "2" => "1" (forces destroy)');
    expect(text).toContain('  +/- Task: "server" (forces create/destroy update)');
    expect(text).toContain('    +/- Command: "/bin/sh" => "/bin/bash"');
  });
});

describe("tasksUpdated: destructive or in place", () => {
  const inPlace: [string, (j: Job) => void][] = [
    ["count", (j) => { j.groups[0]!.count = 5; }],
    ["priority", (j) => { j.priority = 90; }],
    ["constraints", (j) => { j.groups[0]!.constraints.push({ attribute: "${node.name}", operator: "!=", value: "x" }); }],
    ["spread", (j) => { j.groups[0]!.spread.push({ attribute: "${node.name}", targets: [] }); }],
    ["meta", (j) => { j.meta = { team: "a" }; }],
    ["restart policy", (j) => { j.groups[0]!.restart.attempts += 1; }],
    ["reschedule policy", (j) => { j.groups[0]!.reschedule.delayMs += 1000; }],
    ["update policy", (j) => { j.groups[0]!.update.maxParallel += 1; }],
  ];
  const destructive: [string, (j: Job) => void, string][] = [
    ["command", (j) => { j.groups[0]!.tasks[0]!.command = "/bin/bash"; }, "command"],
    ["args", (j) => { j.groups[0]!.tasks[0]!.args.push("x"); }, "args"],
    ["env", (j) => { j.groups[0]!.tasks[0]!.env.X = "1"; }, "env"],
    ["resources", (j) => { j.groups[0]!.tasks[0]!.resources.memoryMb = 128; }, "resources"],
    ["ports", (j) => { j.groups[0]!.tasks[0]!.ports.http = {}; }, "ports"],
    ["a task added", (j) => { j.groups[0]!.tasks.push({ ...j.groups[0]!.tasks[0]!, name: "side" }); }, "tasks changed"],
  ];

  for (const [what, f] of inPlace) {
    test(`${what}: in place, and the group hash agrees`, () => {
      const a = job();
      const b = edit(f);
      expect(tasksUpdated(a.groups[0]!, b.groups[0]!)).toBeNull();
      expect(groupHash(b, b.groups[0]!)).toBe(groupHash(a, a.groups[0]!));
      expect(allocUpdateKind(a.groups[0]!, 0, b.groups[0]!, 1)).toBe("in-place update");
    });
  }
  for (const [what, f, reason] of destructive) {
    test(`${what}: destructive, and the group hash agrees`, () => {
      const a = job();
      const b = edit(f);
      expect(tasksUpdated(a.groups[0]!, b.groups[0]!)).toContain(reason);
      expect(groupHash(b, b.groups[0]!)).not.toBe(groupHash(a, a.groups[0]!));
      expect(allocUpdateKind(a.groups[0]!, 0, b.groups[0]!, 1)).toBe("create/destroy update");
    });
  }
  test("key order of env is not a change", () => {
    const a = edit((j) => { j.groups[0]!.tasks[0]!.env = { A: "1", B: "2" }; });
    const b = edit((j) => { j.groups[0]!.tasks[0]!.env = { B: "2", A: "1" }; });
    expect(tasksUpdated(a.groups[0]!, b.groups[0]!)).toBeNull();
    expect(allocUpdateKind(a.groups[0]!, 3, b.groups[0]!, 3)).toBe("ignore");
  });
});

describe("inPlaceUpdates: kept allocations move to the new version", () => {
  const spec = edit((j) => { j.groups[0]!.count = 3; });
  const hash = groupHash(spec, spec.groups[0]!);
  const row = { version: 1, priority: 50, stop: false } as never;
  const alloc = (id: string, over: Record<string, unknown> = {}) => ({
    id, groupName: "front", groupHash: hash, jobVersion: 0, priority: 50, desiredStatus: "run", clientStatus: "running", ...over,
  }) as never;

  test("same tasks at an older version: updated; current, outdated, stopping and finished ones: not", () => {
    const out = inPlaceUpdates(row, spec, new Map([["front", hash]]), [
      alloc("old"), alloc("current", { jobVersion: 1 }), alloc("outdated", { groupHash: "other" }),
      alloc("stopping"), alloc("done", { clientStatus: "complete" }), alloc("gone-group", { groupName: "x" }),
    ], new Set(["stopping"]));
    expect(out).toEqual(["old"]);
  });
  test("a priority change alone moves them too; a stopped job moves none", () => {
    expect(inPlaceUpdates({ version: 1, priority: 70, stop: false } as never, spec, new Map([["front", hash]]), [alloc("a", { jobVersion: 1 })], new Set())).toEqual(["a"]);
    expect(inPlaceUpdates({ version: 1, priority: 50, stop: true } as never, spec, new Map([["front", hash]]), [alloc("a")], new Set())).toEqual([]);
  });
});

describe("registerRefusal: check-index and EnforcePriorVersion", () => {
  const existing = { version: 3, submitIndex: 42 };
  test("0 means the job must not exist", () => {
    expect(registerRefusal("web", undefined, { enforceIndex: 0 })).toBeNull();
    expect(registerRefusal("web", existing, { enforceIndex: 0 })?.code).toBe("INDEX_MISMATCH");
  });
  test("N must equal the job's modify index", () => {
    expect(registerRefusal("web", existing, { enforceIndex: 42 })).toBeNull();
    const r = registerRefusal("web", existing, { enforceIndex: 41 });
    expect(r?.code).toBe("INDEX_MISMATCH");
    expect(r?.message).toContain("conflicting job modify index 42");
    expect(registerRefusal("web", undefined, { enforceIndex: 5 })?.message).toContain("does not exist");
  });
  test("a revert with EnforcePriorVersion needs that current version", () => {
    expect(registerRefusal("web", existing, { revert: { toVersion: 1, priorVersion: 3 } })).toBeNull();
    expect(registerRefusal("web", existing, { revert: { toVersion: 1, priorVersion: 2 } })?.message).toContain("not the expected prior version 2");
  });
});

describe("log entry versions: the new fields travel in v2 entries", () => {
  test("a plain register stays v1 (readable by the previous release); check-index, revert or a non-default keep make it v2", async () => {
    const { registerJobExtras, JOB_STATE_LIMITS } = await import("../../core/state/domains/jobs-commands.ts");
    expect(registerJobExtras({})).toEqual({ v: 1 });
    expect(registerJobExtras({ keepVersions: JOB_STATE_LIMITS.versions })).toEqual({ v: 1 });
    expect(registerJobExtras({ keepVersions: 6 })).toEqual({ v: 2, keepVersions: 6 });
    expect(registerJobExtras({ enforceIndex: 0 })).toEqual({ v: 2, enforceIndex: 0 });
    expect(registerJobExtras({ revert: { toVersion: 1 } })).toEqual({ v: 2, revert: { toVersion: 1 } });
  });
  test("a spec using a key the previous release would drop (canary, lifecycle, isolation) goes out as v2", async () => {
    const { registerJobExtras } = await import("../../core/state/domains/jobs-commands.ts");
    const spec = (task: Record<string, unknown>, update: Record<string, unknown> = {}) => {
      const r = parseJobSpec(JSON.stringify({ id: "j", groups: [{ name: "g", update, tasks: [{ name: "t", command: "/bin/true", ...task }, { name: "main", command: "/bin/true" }] }] }), "json");
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.job;
    };
    expect(registerJobExtras({ job: spec({}) })).toEqual({ v: 1 });
    expect(registerJobExtras({ job: spec({ lifecycle: { hook: "prestart" } }) }).v).toBe(2);
    expect(registerJobExtras({ job: spec({ isolation: "required" }) }).v).toBe(2);
    expect(registerJobExtras({ job: spec({ network_mode: "none" }) }).v).toBe(2);
    expect(registerJobExtras({ job: spec({}, { canary: 1 }) }).v).toBe(2);
  });
  test("this binary applies RegisterJob and CommitPlan v1 and v2", async () => {
    const { knownCommandVersions } = await import("../../core/state/command-versions.ts");
    expect(knownCommandVersions().get("RegisterJob")).toEqual([1, 2]);
    expect(knownCommandVersions().get("CommitPlan")).toEqual([1, 2]);
    expect(knownCommandVersions().get("DeregisterJob")).toEqual([1, 2]);
  });
});
