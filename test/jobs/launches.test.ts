// LaunchChildJob through the real FSM and SQLite state: a periodic launch
// time is recorded once, a dispatch token answers its first child, dead
// children are purged beyond DEAD_CHILDREN_KEPT; and the pure launch plan
// a new leader computes from the newest recorded launch.
import { afterEach, describe, expect, test } from "bun:test";
import { getTableColumns } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import * as schema from "../../core/store/schema.ts";
import type { Command } from "../../core/state/commands.ts";
import { validateJob, type Job } from "../../core/scheduler/index.ts";
import { childJob, periodicChildId } from "../../core/cluster/scheduling/children.ts";
import { planLaunches, CATCH_UP } from "../../core/cluster/scheduling/periodic-plan.ts";
import { DEAD_CHILDREN_KEPT } from "../../core/state/domains/launches.ts";
import { testState, uuid, type TestState } from "./fixtures.ts";

let t: TestState;
afterEach(async () => t?.close());

function template(extra: Record<string, unknown>): Job {
  const r = validateJob({ id: "rep", type: "batch", ...extra, groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 10, memory: 8 } }] }] });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.job;
}

const launch = (parent: Job, kind: "periodic" | "dispatch", key: string, childId: string): Command => ({
  type: "LaunchChildJob", v: 1, at: 5, kind, namespace: "default", parentId: parent.id, key, job: childJob(parent, childId), evalId: uuid(),
});

describe("LaunchChildJob", () => {
  test("the job_launches table matches its migration", async () => {
    t = await testState();
    const live = (t.store.client.prepare("PRAGMA table_info(job_launches)").all() as { name: string }[]).map((c) => c.name).sort();
    expect(live).toEqual(Object.values(getTableColumns(schema.jobLaunches)).map((c) => c.name).sort());
    expect(getTableConfig(schema.jobLaunches).name).toBe("job_launches");
  });

  test("a periodic launch time is recorded once: the same time again is refused, even from another proposer", async () => {
    t = await testState();
    const parent = template({ periodic: { crons: ["* * * * *"] } });
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: parent, evalId: uuid() });
    const first = await t.propose(launch(parent, "periodic", "1767580200", periodicChildId("rep", 1767580200_000)));
    expect(first.result).toMatchObject({ ok: true, value: { childId: "rep/periodic-1767580200", duplicate: false } });
    const again = await t.propose(launch(parent, "periodic", "1767580200", periodicChildId("rep", 1767580200_000)));
    expect(again.result).toMatchObject({ ok: false, code: "LAUNCH_EXISTS" });
    expect(t.state.jobs.launches("default", "rep", "periodic").map((l) => l.key)).toEqual(["1767580200"]);
    expect(t.state.jobs.getJob("default", "rep/periodic-1767580200")!.spec.parentId).toBe("rep");
    // The template places nothing, and launching from a non-periodic job is refused.
    const notPeriodic = template({ id: "plain" });
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: { ...notPeriodic, id: "plain" }, evalId: uuid() });
    const bad = await t.propose({ ...launch({ ...notPeriodic, id: "plain" }, "periodic", "1", "plain/periodic-1") } as Command);
    expect(bad.result).toMatchObject({ ok: false, code: "NOT_PERIODIC" });
  });

  test("a dispatch token answers the first child and creates nothing", async () => {
    t = await testState();
    const parent = template({ parameterized: {} });
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: parent, evalId: uuid() });
    const a = await t.propose(launch(parent, "dispatch", "token:x", "rep/dispatch-1-aaaaaaaa"));
    const b = await t.propose(launch(parent, "dispatch", "token:x", "rep/dispatch-2-bbbbbbbb"));
    expect(b.result).toMatchObject({ ok: true, value: { childId: "rep/dispatch-1-aaaaaaaa", duplicate: true } });
    expect(a.result.ok).toBe(true);
    expect(t.state.jobs.getJob("default", "rep/dispatch-2-bbbbbbbb")).toBeUndefined();
  });

  test(`dead children beyond ${DEAD_CHILDREN_KEPT} are purged as new ones launch`, async () => {
    t = await testState();
    const parent = template({ parameterized: {} });
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: parent, evalId: uuid() });
    for (let i = 0; i < DEAD_CHILDREN_KEPT + 5; i++) {
      await t.propose(launch(parent, "dispatch", `child:${i}`, `rep/dispatch-${i}`));
      // A child that ran to completion: mark it dead as its last plan would.
      t.store.client.prepare("UPDATE jobs SET status = 'dead' WHERE id = ?").run(`rep/dispatch-${i}`);
    }
    await t.propose(launch(parent, "dispatch", "child:last", "rep/dispatch-last"));
    const children = t.state.jobs.listJobs("default").filter((j) => j.id.startsWith("rep/"));
    expect(children.length).toBe(DEAD_CHILDREN_KEPT + 1);
    expect(children.some((j) => j.id === "rep/dispatch-0")).toBe(false);
    expect(children.some((j) => j.id === "rep/dispatch-last")).toBe(true);
    expect(t.state.jobs.getJob("default", "rep")).toBeDefined();
  });
});

describe("planLaunches", () => {
  const every10s = { crons: ["*/10 * * * * * *"], timeZone: "UTC", prohibitOverlap: false, enabled: true };
  const T = Date.parse("2026-03-02T10:00:00Z");

  test("times missed since the newest launch are all due (up to the catch-up bound), then the next one", () => {
    expect(planLaunches(every10s, T, T + 35_000)).toEqual({ due: [T + 10_000, T + 20_000, T + 30_000], next: T + 40_000 });
    expect(planLaunches(every10s, T, T + 5_000)).toEqual({ due: [], next: T + 10_000 });
  });

  test(`more than ${CATCH_UP} missed: only the newest runs`, () => {
    expect(planLaunches(every10s, T, T + 3600_000 + 1)).toEqual({ due: [T + 3600_000], next: T + 3610_000 });
  });

  test("a very long gap resumes from now", () => {
    const everySecond = { ...every10s, crons: ["* * * * * * *"] };
    const plan = planLaunches(everySecond, T, T + 86_400_000);
    expect(plan.due.length).toBe(1);
    expect(plan.next).toBe(T + 86_400_000 + 1000);
  });
});
