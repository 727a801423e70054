// Several agents' status reports in one log entry (UpdateAllocStatus v2,
// core/cluster/raft/status-report-batch.ts): the leader's replicator gathers
// the v1 reports that reach it in one turn into one entry; each proposer is
// answered with its own report's outcome; the state they leave is the state
// the same reports leave as v1 entries applied one after another, and a log
// written by the previous release (v1 entries only) still applies.
import { afterEach, describe, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { Command as CommandSchema } from "../../core/state/commands.ts";
import { knownCommandVersions } from "../../core/state/command-versions.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "./fixtures.ts";

const states: TestState[] = [];
afterEach(async () => {
  for (const s of states.splice(0)) await s.close();
});

const N1 = uuid(2001);
const N2 = uuid(2002);
const N3 = uuid(2003);
const A = [uuid(3001), uuid(3002), uuid(3003), uuid(3004)];
const B = uuid(3005); // job "api", on N3
const UNKNOWN = uuid(3999);

type Update = { allocId: string; clientStatus: "running" | "failed" | "complete"; description: string; taskStates: Record<string, unknown> };
const u = (allocId: string, clientStatus: Update["clientStatus"], description = ""): Update => ({
  allocId, clientStatus, description, taskStates: { srv: { state: clientStatus === "running" ? "running" : "dead", failed: clientStatus === "failed", restarts: 0, oom: false, ooms: 0, exitCode: null, startedAt: 5, finishedAt: 0, events: [] } },
});
const v1 = (nodeId: string, at: number, ...updates: Update[]): Command => ({ type: "UpdateAllocStatus", v: 1, at, nodeId, updates } as Command);

/** Three nodes; job web with A[0..1] on N1 and A[2..3] on N2, job api with B on N3. */
async function seeded(): Promise<TestState> {
  const t = await testState();
  states.push(t);
  for (const [id, name] of [[N1, "n1"], [N2, "n2"], [N3, "n3"]] as const) await t.propose(registerNode(id, name));
  for (const [job, count] of [["web", 4], ["api", 1]] as const) {
    const ev = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob(job, { count }), evalId: ev });
    const placements = job === "web"
      ? A.map((id, i) => placement(id, i < 2 ? N1 : N2, i))
      : [placement(B, N3, 0)];
    const out = await t.propose({
      type: "CommitPlan", v: 1, at: 10, evalId: ev, namespace: "default", jobId: job, jobVersion: 0,
      placements, stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [],
    } as Command);
    expect(out.result.ok).toBe(true);
  }
  return t;
}

function placement(id: string, nodeId: string, i: number) {
  return {
    id, group: "web", taskGroupIndex: i, nodeId, resources: { cpuMhz: 100, memoryMb: 64 },
    ports: [{ task: "srv", label: "http", value: 21000 + i, static: false }], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
  };
}

/** The reports of one busy turn: transitions, a repeat that changes nothing, another node's allocation, an unknown id, a failure. */
const REPORTS: Command[] = [
  v1(N1, 100, u(A[0]!, "running"), u(A[1]!, "running")),
  v1(N2, 101, u(A[2]!, "running"), u(A[0]!, "running"), u(UNKNOWN, "running")),
  v1(N3, 102, u(B, "running")),
  v1(N2, 103, u(A[2]!, "running"), u(A[3]!, "failed", "exit 1")),
  v1(N3, 104, u(B, "complete")),
];

/** What the reports leave: each allocation's status fields and time, each job's status. */
function outcome(t: TestState) {
  return {
    allocs: [...A, B].map((id) => {
      const a = t.state.jobs.getAlloc(id)!;
      return { id, clientStatus: a.clientStatus, clientDescription: a.clientDescription, taskStates: a.taskStates, modifiedAt: a.modifiedAt };
    }),
    jobs: ["web", "api"].map((j) => t.state.jobs.getJob("default", j)!.status),
  };
}

describe("status reports in one entry", () => {
  test("reports proposed together are one entry; each proposer gets its own report's outcome; the state is the one-by-one state", async () => {
    const oneByOne = await seeded();
    const alone = [];
    for (const r of REPORTS) alone.push(await oneByOne.propose(r));
    // Each alone in its turn: five v1 entries, as before.
    expect(new Set(alone.map((o) => o.index)).size).toBe(REPORTS.length);

    const together = await seeded();
    const batched = await Promise.all(REPORTS.map((r) => together.propose(r)));
    expect(new Set(batched.map((o) => o.index)).size).toBe(1);
    expect(batched.map((o) => o.result)).toEqual(alone.map((o) => o.result));
    expect(batched.map((o) => o.result)).toEqual([
      { ok: true, value: { updated: 2, ignored: [] } },
      { ok: true, value: { updated: 1, ignored: [A[0], UNKNOWN] } },
      { ok: true, value: { updated: 1, ignored: [] } },
      { ok: true, value: { updated: 1, ignored: [] } },
      { ok: true, value: { updated: 1, ignored: [] } },
    ]);
    expect(outcome(together)).toEqual(outcome(oneByOne));
    expect(outcome(together).allocs.map((a) => a.clientStatus)).toEqual(["running", "running", "running", "failed", "complete"]);
    // The entry in the log is a v2 carrying the five reports in order.
    const entry = together.store.client.prepare("SELECT data FROM log WHERE idx = ?").get(batched[0]!.index) as { data: string } | undefined;
    const cmd = JSON.parse(entry!.data);
    expect(cmd).toMatchObject({ type: "UpdateAllocStatus", v: 2, at: 104 });
    expect(cmd.reports.map((r: { nodeId: string; at: number }) => [r.nodeId, r.at])).toEqual([[N1, 100], [N2, 101], [N3, 102], [N2, 103], [N3, 104]]);
  });

  test("a v2 entry proposed as such applies as its reports one after another; a lone report stays v1", async () => {
    const oneByOne = await seeded();
    for (const r of REPORTS) await oneByOne.propose(r);
    const direct = await seeded();
    const reports = REPORTS.map((r) => ({ nodeId: (r as { nodeId: string }).nodeId, at: r.at, updates: (r as { updates: Update[] }).updates }));
    const out = await direct.propose({ type: "UpdateAllocStatus", v: 2, at: 104, reports } as Command);
    expect(out.result).toMatchObject({ ok: true, value: { reports: [{ updated: 2 }, { updated: 1 }, { updated: 1 }, { updated: 1 }, { updated: 1 }] } });
    expect(outcome(direct)).toEqual(outcome(oneByOne));

    const lone = await direct.propose(v1(N1, 200, u(A[0]!, "complete")));
    const data = (direct.store.client.prepare("SELECT data FROM log WHERE idx = ?").get(lone.index) as { data: string }).data;
    expect(JSON.parse(data)).toMatchObject({ type: "UpdateAllocStatus", v: 1, nodeId: N1 });
  });

  test("a report whose apply throws fails alone: its batch-mates apply, it is answered with its own error", async () => {
    // No valid report makes the applier throw; a row it cannot read does (task_states that is not JSON, written
    // behind the log's back): the same state fails the same way on every replica.
    const broken = (t: TestState) => t.store.client.prepare("UPDATE allocations SET task_states = '{not json' WHERE id = ?").run(A[2]!);
    const reports = [v1(N1, 100, u(A[0]!, "running")), v1(N2, 101, u(A[2]!, "running"), u(A[3]!, "running")), v1(N3, 102, u(B, "running"))];

    // Alone, as a v1 entry, the report is refused whole (the Fsm's savepoint) and nothing of it stays.
    const oneByOne = await seeded();
    broken(oneByOne);
    const alone = [];
    for (const r of reports) alone.push(await oneByOne.propose(r));
    expect(alone[1]!.result).toMatchObject({ ok: false, code: "APPLY_FAILED" });

    // Together in one v2 entry: the same answers, each report's own, and the same state.
    const together = await seeded();
    broken(together);
    const batched = await Promise.all(reports.map((r) => together.propose(r)));
    expect(new Set(batched.map((o) => o.index)).size).toBe(1);
    expect(batched.map((o) => o.result.ok)).toEqual([true, false, true]);
    expect(batched[0]!.result).toEqual({ ok: true, value: { updated: 1, ignored: [] } });
    expect(batched[1]!.result).toMatchObject({ ok: false, code: "APPLY_FAILED" });
    expect((batched[1]!.result as { message: string }).message).toContain("JSON");
    expect(batched[2]!.result).toEqual({ ok: true, value: { updated: 1, ignored: [] } });
    const status = (t: TestState) => [A[0]!, A[3]!, B].map((id) => t.state.jobs.getAlloc(id)!.clientStatus);
    expect(status(together)).toEqual(["running", "pending", "running"]); // A[3] went back with its report's A[2]
    expect(status(together)).toEqual(status(oneByOne));
    expect(["web", "api"].map((j) => together.state.jobs.getJob("default", j)!.status)).toEqual(["running", "running"]);
    // A report of the same agent, once its row reads again, applies as usual.
    together.store.client.prepare("UPDATE allocations SET task_states = '{}' WHERE id = ?").run(A[2]!);
    expect((await together.propose(reports[1]!)).result).toEqual({ ok: true, value: { updated: 2, ignored: [] } });
  });

  test("the schema keeps v1 and v2 apart, and v2 is a version this release applies", () => {
    expect(knownCommandVersions().get("UpdateAllocStatus")).toEqual([1, 2]);
    const updates = [u(A[0]!, "running")];
    expect(CommandSchema.safeParse({ type: "UpdateAllocStatus", v: 1, at: 1, nodeId: N1, updates }).success).toBe(true);
    expect(CommandSchema.safeParse({ type: "UpdateAllocStatus", v: 1, at: 1, reports: [{ nodeId: N1, at: 1, updates }] }).success).toBe(false);
    expect(CommandSchema.safeParse({ type: "UpdateAllocStatus", v: 2, at: 1, nodeId: N1, updates }).success).toBe(false);
    expect(CommandSchema.safeParse({ type: "UpdateAllocStatus", v: 2, at: 1, reports: [{ nodeId: N1, at: 1, updates }] }).success).toBe(true);
    // At most 1,000 updates in all, as one v1 report carries at most.
    const many = Array.from({ length: 600 }, (_, i) => u(uuid(50_000 + i), "running"));
    expect(CommandSchema.safeParse({ type: "UpdateAllocStatus", v: 2, at: 1, reports: [{ nodeId: N1, at: 1, updates: many }, { nodeId: N2, at: 1, updates: many }] }).success).toBe(false);
  });
});
