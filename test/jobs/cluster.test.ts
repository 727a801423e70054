// Cluster resource management with real processes: one leader, two agents
// advertising 2000 MHz / 2048 MB each, tasks that are real HTTP servers.
// The scenarios run in order on the same cluster (each cleans up after
// itself); the agent kill -9 comes last.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, getJson, eventually, sleep, type CorralProcess } from "../helpers/proc.ts";
import {
  BUN, NODE_TTL_MS, alive, allocs, httpJob, reapTasks, restartAgent, startAgent, startLeader, stopJob, submit, taskPid, waitRunning, type Agent,
} from "./cluster-helpers.ts";

let leader: CorralProcess;
let a: Agent;
let b: Agent;
let L: string;

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  a = await startAgent(leader, "agent-a");
  b = await startAgent(leader, "agent-b");
}, 60_000);

afterAll(async () => {
  for (const j of ["web", "big", "low", "high", "hog", "drained", "survivor"]) await stopJob(L, j).catch(() => {});
  await sleep(1500);
  await killAll();
  for (const ag of [a, b]) if (ag) reapTasks(ag.dataDir);
});

async function waitGone(jobId: string) {
  await eventually(async () => (await allocs(L, jobId)).every((x) => x.clientStatus !== "running" && x.clientStatus !== "pending"), 15_000);
}

describe("jobs on a leader and two agents", () => {
  test("4 HTTP servers spread over both agents, answer on their ports, and are healthy in the catalog", async () => {
    await submit(L, httpJob("web", { count: 4, cpu: 800 }));
    const live = await waitRunning(L, "web", 4);
    const perNode = new Map<string, number>();
    for (const x of live) perNode.set(x.nodeId, (perNode.get(x.nodeId) ?? 0) + 1);
    expect([...perNode.entries()].sort()).toEqual(([[a.nodeId, 2], [b.nodeId, 2]] as [string, number][]).sort());
    for (const x of live) {
      const port = x.ports.find((p: any) => p.label === "http").value;
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
    }
    const healthy = await eventually(async () => {
      const r = await getJson<any[]>(L + "/v1/health/service/web?passing");
      return r.body.length === 4 && r.body;
    }, 15_000);
    expect(healthy.map((e) => e.Service.Port).sort()).toEqual(live.map((x) => x.ports[0].value).sort());
    // Reachable by name through the invoke plugin, on the leader and on an agent.
    for (const base of [L, a.proc.url]) {
      const answers = await eventually(async () => {
        const rs = await Promise.all(Array.from({ length: 8 }, () => fetch(`${base}/v1/invoke/web/`)));
        const texts = await Promise.all(rs.map((r) => r.text()));
        return rs.every((r) => r.status === 200) && texts;
      }, 10_000);
      expect(answers.every((t) => t === "ok")).toBe(true);
    }
    // Any node serves a task's logs: the leader passes the request on to the agent running it.
    await fetch(`http://127.0.0.1:${live[0].ports[0].value}/`);
    const logs = await fetch(`${L}/v1/alloc/${live[0].id.slice(0, 8)}/logs?type=stderr`);
    expect(logs.status).toBe(200);
    expect(logs.headers.get("content-type")).toContain("text/plain");
    const other = live[0].nodeId === a.nodeId ? b : a;
    expect((await fetch(`${other.proc.url}/v1/alloc/${live[0].id}/logs`)).status).toBe(200);
    // The deployment of version 0 succeeds once all four are healthy.
    await eventually(async () => (await getJson(L + "/v1/job/web")).body.deployments[0]?.status === "successful", 15_000);
  }, 60_000);

  test("no room: a blocked evaluation, placed once capacity frees", async () => {
    const { evalId } = await submit(L, httpJob("big", { count: 1, cpu: 1500 }));
    const ev = await eventually(async () => {
      const r = await getJson(`${L}/v1/evaluation/${evalId}`);
      return r.body.status === "blocked" && r.body;
    }, 10_000);
    expect(ev.failedGroups[0].metrics.reasons).toMatchObject({ "cpu exhausted": 2 });
    expect((await getJson(`${L}/v1/job/big/plan`, { method: "POST", body: JSON.stringify(httpJob("big", { count: 1, cpu: 1500 })), headers: { "content-type": "application/json" } })).body.blocked).toBe(true);

    const webPids = (await allocs(L, "web")).filter((x) => x.desiredStatus === "run").map((x) => taskPid(x, "srv")!);
    await stopJob(L, "web");
    await waitRunning(L, "big", 1);
    // Stopping a job leaves no process behind.
    await eventually(() => webPids.every((p) => !alive(p)), 10_000);
    expect((await getJson<any[]>(L + "/v1/health/service/web")).body).toEqual([]);
    await stopJob(L, "big");
    await waitGone("big");
  }, 60_000);

  test("preemption: a high-priority job evicts a low-priority allocation", async () => {
    await submit(L, httpJob("low", { count: 2, cpu: 1500, priority: 20, spread: true }));
    const lows = await waitRunning(L, "low", 2);
    await submit(L, httpJob("high", { count: 1, cpu: 1000, priority: 80 }));
    const [high] = await waitRunning(L, "high", 1);
    const after = await allocs(L, "low");
    const evicted = after.find((x) => x.desiredStatus === "stop")!;
    expect(evicted.nodeId).toBe(high.nodeId);
    expect(evicted.desiredDescription).toContain("preempted");
    const pid = taskPid(lows.find((x) => x.id === evicted.id), "srv")!;
    await eventually(() => !alive(pid), 20_000);
    // The evicted allocation's job is re-evaluated: no room, so it waits blocked.
    await eventually(async () => (await getJson<any[]>(`${L}/v1/evaluations?job=low&status=blocked`)).body.length === 1, 20_000);
    await stopJob(L, "high");
    await stopJob(L, "low");
    await waitGone("low");
    await waitGone("high");
  }, 60_000);

  test("a task over its memory is killed, reported OOM, and restarted by its policy", async () => {
    await submit(L, {
      id: "hog",
      groups: [{
        name: "g", restart: { attempts: 1, delay: "200ms", interval: "1m", mode: "fail" }, reschedule: { attempts: 0, unlimited: false },
        tasks: [{ name: "eat", command: BUN, args: ["-e", "const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 50)"], resources: { cpu: 100, memory: 120 } }],
      }],
    });
    const failed = await eventually(async () => (await allocs(L, "hog")).find((x) => x.clientStatus === "failed"), 20_000);
    expect(failed.taskStates.eat).toMatchObject({ state: "dead", failed: true, oom: true, ooms: 2, restarts: 1 });
    expect(failed.taskStates.eat.events.map((e: any) => e.type)).toContain("OOM Killed");
    // reschedule attempts = 0: not replaced.
    await sleep(1500);
    expect((await allocs(L, "hog")).length).toBe(1);
    await stopJob(L, "hog", true);
  }, 60_000);

  test("drain: allocations migrate to the other agent, max_parallel at a time", async () => {
    const drain = (enable: boolean) =>
      getJson(`${L}/v1/node/agent-a/drain`, { method: "POST", body: JSON.stringify({ enable }), headers: { "content-type": "application/json" } });
    try {
      await submit(L, httpJob("drained", { count: 2, cpu: 300, extra: { constraints: [{ attribute: "${node.name}", value: "agent-a" }] } }));
      await waitRunning(L, "drained", 2);
      // Lift the constraint: the tasks are the same, so the allocations stay where they are.
      await submit(L, httpJob("drained", { count: 2, cpu: 300 }));
      await sleep(500);
      expect((await allocs(L, "drained")).filter((x) => x.desiredStatus === "stop")).toEqual([]);
      expect((await drain(true)).status).toBe(200);
      const moved = await eventually(async () => {
        const live = (await allocs(L, "drained")).filter((x) => x.desiredStatus === "run" && x.clientStatus === "running");
        return live.length === 2 && live.every((x) => x.nodeId === b.nodeId) && live;
      }, 30_000);
      expect(moved.every((x) => x.previousAlloc !== "")).toBe(true);
      const stopped = (await allocs(L, "drained")).filter((x) => x.desiredStatus === "stop");
      expect(stopped.map((x) => x.desiredDescription)).toEqual([expect.stringContaining("draining"), expect.stringContaining("draining")]);
      // One at a time: the second left only after the first one's replacement was placed (and healthy).
      const [first, second] = stopped.sort((x, y) => x.modifyIndex - y.modifyIndex);
      const firstReplacement = moved.find((x) => x.previousAlloc === first.id);
      expect(second.modifyIndex).toBeGreaterThan(firstReplacement.createIndex);
    } finally {
      await drain(false);
      await stopJob(L, "drained").catch(() => {});
      await waitGone("drained");
    }
  }, 60_000);

  test("kill -9 an agent: its allocations run on the other within node_ttl + 5 s; the restarted agent kills the tasks of its lost allocations instead of adopting them", async () => {
    await submit(L, httpJob("survivor", { count: 2, cpu: 700, spread: true }));
    const live = await waitRunning(L, "survivor", 2);
    expect(new Set(live.map((x) => x.nodeId)).size).toBe(2);
    const onB = live.find((x) => x.nodeId === b.nodeId)!;
    const orphan = taskPid(onB, "srv")!;
    await b.proc.kill("SIGKILL");
    const killedAt = Date.now();
    const moved = await eventually(async () => {
      const now = (await allocs(L, "survivor")).filter((x) => x.desiredStatus === "run" && x.clientStatus === "running");
      return now.length === 2 && now.every((x) => x.nodeId === a.nodeId) && now;
    }, NODE_TTL_MS + 5000, 100);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(NODE_TTL_MS + 5000);
    expect(moved.find((x) => x.previousAlloc === onB.id)).toBeDefined();
    expect((await allocs(L, "survivor")).find((x) => x.id === onB.id)).toMatchObject({ clientStatus: "lost", desiredStatus: "stop" });
    expect(alive(orphan)).toBe(true); // its agent is gone: nothing killed it yet
    await restartAgent(b);
    await eventually(() => !alive(orphan), 10_000);
    await eventually(async () => (await getJson(`${L}/v1/node/${b.nodeId}`)).body.status === "ready", 10_000);
    // Back and empty: the lost allocation is not restarted there.
    await sleep(1000);
    expect((await getJson<any[]>(`${L}/v1/allocations?node=agent-b`)).body.filter((x) => x.clientStatus === "running")).toEqual([]);
    expect(BUN).toBeTruthy();
  }, 60_000);
});
