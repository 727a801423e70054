// The leader's scheduling loop in-process over a real state store: job
// registration to placement, a blocked evaluation released by new capacity,
// a node going down, and a new leader picking up what the old one left.
import { afterEach, describe, expect, test } from "bun:test";
import { EventBus } from "../../core/events.ts";
import { silentLogger } from "../../core/log.ts";
import { SchedulingLoop } from "../../core/cluster/scheduling/loop.ts";
import type { Command } from "../../core/state/commands.ts";
import { eventually } from "../helpers/proc.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "./fixtures.ts";

let t: TestState;
let loop: SchedulingLoop | undefined;
afterEach(async () => {
  loop?.stop();
  loop = undefined;
  await t?.close();
});

function start(leader = true): { loop: SchedulingLoop; bus: EventBus } {
  const bus = new EventBus();
  t.fsm.onApplied((e) => bus.publish("applied", e));
  const l = new SchedulingLoop({ state: t.state, propose: (c: Command) => t.raft.propose(c), isLeader: () => leader, bus, log: silentLogger, preemption: false, watchIntervalMs: 50 });
  l.start();
  loop = l;
  return { loop: l, bus };
}

const live = () => t.state.jobs.listAllocs({ jobId: "web" }).filter((a) => a.desiredStatus === "run");

describe("scheduling loop", () => {
  test("a registered job is placed; no room blocks it until a node joins", async () => {
    t = await testState();
    start();
    await t.propose(registerNode(uuid(101), "n1", { cpuMhz: 1000 }));
    const evalId = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob("web", { count: 3, cpu: 400 }), evalId });
    await eventually(() => t.state.jobs.getEval(evalId)?.status === "blocked", 5000, 10);
    expect(live()).toHaveLength(2);
    expect(t.state.jobs.getEval(evalId)!.failedGroups[0]).toMatchObject({ group: "web", missing: 1 });
    await t.propose(registerNode(uuid(102), "n2", { cpuMhz: 1000 }));
    await eventually(() => live().length === 3, 5000, 10);
    expect(t.state.jobs.getEval(evalId)!.status).toBe("complete");
  });

  test("a node that goes down loses its allocations; they are replaced on another node", async () => {
    t = await testState();
    start();
    const [n1, n2] = [uuid(201), uuid(202)];
    await t.propose(registerNode(n1, "n1"));
    await t.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob("web", { count: 2 }), evalId: uuid() });
    await eventually(() => live().length === 2, 5000, 10);
    await t.propose(registerNode(n2, "n2"));
    await t.propose({ type: "SetNodeStatus", v: 1, at: Date.now(), nodeId: n1, status: "down" });
    await eventually(() => live().length === 2 && live().every((a) => a.nodeId === n2), 5000, 10);
    const lost = t.state.jobs.listAllocs({ jobId: "web" }).filter((a) => a.clientStatus === "lost");
    expect(lost).toHaveLength(2);
    expect(live().map((a) => a.previousAlloc).sort()).toEqual(lost.map((a) => a.id).sort());
  });

  test("a new leader runs the evaluations its predecessor left pending", async () => {
    t = await testState();
    await t.propose(registerNode(uuid(301), "n1"));
    const evalId = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob("web", { count: 2 }), evalId }); // no loop yet
    expect(live()).toHaveLength(0);
    start(false);
    await Bun.sleep(50);
    expect(live()).toHaveLength(0); // a follower schedules nothing
    loop!.leadershipChanged(true);
    await eventually(() => live().length === 2, 5000, 10);
    expect(t.state.jobs.getEval(evalId)!.status).toBe("complete");
  });

  test("the health watcher marks running allocations healthy and the deployment successful", async () => {
    t = await testState();
    start();
    const n1 = uuid(401);
    await t.propose(registerNode(n1, "n1"));
    await t.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob("web", { count: 1 }), evalId: uuid() });
    await eventually(() => live().length === 1, 5000, 10);
    const a = live()[0]!;
    const running = { srv: { state: "running" as const, failed: false, restarts: 0, oom: false, ooms: 0, exitCode: null, startedAt: Date.now() - 60_000, finishedAt: 0, events: [] } };
    await t.propose({ type: "UpdateAllocStatus", v: 1, at: Date.now(), nodeId: n1, updates: [{ allocId: a.id, clientStatus: "running", description: "", taskStates: running }] });
    await eventually(() => t.state.jobs.listDeployments({ jobId: "web" })[0]?.status === "successful", 5000, 20);
    expect(t.state.jobs.getAlloc(a.id)!.health).toBe("healthy");
    expect(t.state.jobs.getJob("default", "web")!.stableVersion).toBe(0);
  });
});
