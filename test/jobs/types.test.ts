// Job types with real processes (issue 15, points 1–3): system and sysbatch
// jobs on a leader and agents advertising 2000 MHz / 2048 MB each,
// parameterized jobs dispatched with a payload and meta, and a periodic job
// launching every two seconds. Scenarios run in order on one cluster.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, getJson, killAll, sleep, type CorralProcess } from "../helpers/proc.ts";
import { BUN, allocs, reapTasks, startAgent, startLeader, stopJob, submit, type Agent } from "./cluster-helpers.ts";

let leader: CorralProcess;
let L: string;
const agents: Agent[] = [];

const SLEEPER = ["-e", "setInterval(() => {}, 1000)"];
const small = { cpu: 200, memory: 64 };

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  agents.push(await startAgent(leader, "a1"));
}, 60_000);

afterAll(async () => {
  for (const j of ["node-agent", "filler", "big-agent", "fsck", "render", "tick", "long"]) await stopJob(L, j).catch(() => {});
  await sleep(1500);
  await killAll();
  for (const ag of agents) reapTasks(ag.dataDir);
});

const live = async (jobId: string) => (await allocs(L, jobId)).filter((x) => x.desiredStatus === "run" && x.clientStatus !== "failed" && x.clientStatus !== "complete");
const nodesOf = (list: any[]) => list.map((x) => x.nodeName).sort();
const enc = encodeURIComponent;

async function logOf(allocId: string, task: string): Promise<string> {
  const r = await fetch(`${L}/v1/alloc/${allocId}/logs?task=${task}&type=stdout`);
  return r.status === 200 ? await r.text() : "";
}

describe("system jobs", () => {
  test("one allocation per eligible node: joins get one, constraints apply, drained nodes lose theirs", async () => {
    await submit(L, {
      id: "node-agent", type: "system", priority: 60,
      constraints: [{ attribute: "${node.name}", operator: "regexp", value: "^a[0-9]+$" }],
      groups: [{ name: "agent", tasks: [{ name: "run", command: BUN, args: SLEEPER, resources: small }] }],
    });
    await eventually(async () => (await live("node-agent")).filter((x) => x.clientStatus === "running").length === 1, 20_000);
    expect(nodesOf(await live("node-agent"))).toEqual(["a1"]);

    // A node that joins gets one; a node the constraint excludes does not.
    agents.push(await startAgent(leader, "a2"));
    agents.push(await startAgent(leader, "b1"));
    const both = await eventually(async () => {
      const l = (await live("node-agent")).filter((x) => x.clientStatus === "running");
      return l.length === 2 && l;
    }, 20_000);
    expect(nodesOf(both)).toEqual(["a1", "a2"]);
    await sleep(1500);
    expect(nodesOf(await live("node-agent"))).toEqual(["a1", "a2"]);

    // A drained node loses its allocation, which is not moved anywhere else.
    const a2 = agents[1]!;
    expect((await getJson(`${L}/v1/node/${a2.nodeId}/drain`, { method: "POST", body: JSON.stringify({ enable: true }), headers: { "content-type": "application/json" } })).status).toBe(200);
    await eventually(async () => nodesOf(await live("node-agent")).join() === "a1", 20_000);
    await sleep(1500);
    expect(nodesOf(await live("node-agent"))).toEqual(["a1"]);
    // Eligible again: it gets one back.
    await getJson(`${L}/v1/node/${a2.nodeId}/drain`, { method: "POST", body: JSON.stringify({ enable: false }), headers: { "content-type": "application/json" } });
    await eventually(async () => nodesOf(await live("node-agent")).join() === "a1,a2", 20_000);
  }, 120_000);

  test("a system job preempts lower-priority work to get onto a full node", async () => {
    // The filler takes most of one node (200 MHz are already held there by node-agent).
    await submit(L, {
      id: "filler", priority: 20,
      constraints: [{ attribute: "${node.name}", value: "a1" }],
      groups: [{ name: "g", tasks: [{ name: "t", command: BUN, args: SLEEPER, resources: { cpu: 1600, memory: 64 } }] }],
    });
    await eventually(async () => (await live("filler")).some((x) => x.clientStatus === "running"), 20_000);
    await submit(L, {
      id: "big-agent", type: "system", priority: 80,
      constraints: [{ attribute: "${node.name}", operator: "regexp", value: "^a[0-9]+$" }],
      groups: [{ name: "agent", tasks: [{ name: "run", command: BUN, args: SLEEPER, resources: { cpu: 500, memory: 64 } }] }],
    });
    const placed = await eventually(async () => {
      const l = (await live("big-agent")).filter((x) => x.clientStatus === "running");
      return l.length === 2 && l;
    }, 20_000);
    expect(nodesOf(placed)).toEqual(["a1", "a2"]);
    const filler = (await allocs(L, "filler"))[0];
    expect(filler.desiredStatus).toBe("stop");
    expect(filler.desiredDescription).toContain("preempted (priority 20) to place default/big-agent");
  }, 60_000);
});

describe("sysbatch jobs", () => {
  test("runs once to completion on every eligible node and is not run again", async () => {
    await submit(L, {
      id: "fsck", type: "sysbatch",
      groups: [{ name: "check", tasks: [{ name: "run", command: BUN, args: ["-e", "console.log('checked ' + process.env.CORRAL_ALLOC_ID)"], resources: { cpu: 100, memory: 64 } }] }],
    });
    const done = await eventually(async () => {
      const l = (await allocs(L, "fsck")).filter((x) => x.clientStatus === "complete");
      return l.length === 3 && l;
    }, 30_000);
    expect(nodesOf(done)).toEqual(["a1", "a2", "b1"]);
    await eventually(async () => (await getJson(`${L}/v1/job/fsck`)).body.status === "dead", 10_000);
    await sleep(2000);
    expect((await allocs(L, "fsck")).length).toBe(3);
    expect(await logOf(done[0].id, "run")).toContain(`checked ${done[0].id}`);
  }, 60_000);
});

describe("parameterized jobs", () => {
  const render = {
    id: "render", type: "batch",
    parameterized: { payload: "required", meta_required: ["customer"], meta_optional: ["format"] },
    groups: [{
      name: "r",
      tasks: [{
        name: "job", command: BUN, resources: { cpu: 100, memory: 64 },
        args: ["-e", "console.log('payload=' + require('fs').readFileSync('in/order.json', 'utf8') + ' customer=' + process.env.CORRAL_META_CUSTOMER)"],
        dispatch_payload: { file: "in/order.json" },
      }],
    }],
  };
  const dispatch = (body: unknown) =>
    getJson(`${L}/v1/job/render/dispatch`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

  test("the template itself places nothing; a dispatch creates a child that gets the payload file and the meta", async () => {
    await submit(L, render);
    await sleep(1000);
    expect(await allocs(L, "render")).toEqual([]);

    const payload = Buffer.from('{"order":42}').toString("base64");
    const r = await dispatch({ meta: { customer: "acme" }, payload });
    expect(r.status).toBe(200);
    expect(r.body.dispatchedJobId).toMatch(/^render\/dispatch-\d+-[0-9a-f]{8}$/);
    const child = r.body.dispatchedJobId as string;
    const done = await eventually(async () => {
      const l = (await allocs(L, enc(child))).filter((x) => x.clientStatus === "complete");
      return l.length === 1 && l[0];
    }, 20_000);
    expect((await logOf(done.id, "job")).trim()).toBe('payload={"order":42} customer=acme');
    const job = (await getJson(`${L}/v1/job/${enc(child)}`)).body;
    expect(job.spec.parentId).toBe("render");
    expect(job.spec.meta).toEqual({ customer: "acme" });
  }, 60_000);

  test("dispatches that do not fit the parameterized block are refused with the reason", async () => {
    const payload = Buffer.from("x").toString("base64");
    const missing = await dispatch({ payload });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: "INVALID_DISPATCH", error: 'missing required meta key "customer"' });
    const noPayload = await dispatch({ meta: { customer: "a" } });
    expect(noPayload.body).toMatchObject({ code: "INVALID_DISPATCH", error: "this job requires a payload" });
    const unknown = await dispatch({ meta: { customer: "a", colour: "red" }, payload });
    expect(unknown.body.error).toBe('meta key "colour" is not allowed (allowed: customer, format)');
    const badBase64 = await dispatch({ meta: { customer: "a" }, payload: "***" });
    expect(badBase64.status).toBe(400);
    expect(badBase64.body.code).toBe("INVALID_INPUT");
    const notParam = await getJson(`${L}/v1/job/fsck/dispatch`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(notParam.body).toMatchObject({ code: "NOT_PARAMETERIZED" });
    const big = await dispatch({ meta: { customer: "a" }, payload: Buffer.alloc(17 * 1024).toString("base64") });
    expect(big.status).toBe(400);
  });

  test("a repeated idempotency token is a no-op answering the first child", async () => {
    const body = { meta: { customer: "once" }, payload: Buffer.from("1").toString("base64"), idempotencyToken: "order-7" };
    const first = await dispatch(body);
    const second = await dispatch(body);
    expect(first.body.duplicate).toBe(false);
    expect(second.body).toMatchObject({ dispatchedJobId: first.body.dispatchedJobId, duplicate: true });
    const children = (await getJson<any[]>(`${L}/v1/jobs`)).body.filter((j) => j.id.startsWith("render/") && j.id !== first.body.dispatchedJobId);
    expect(children.length).toBe(1); // the one of the first test only
  });
});

describe("periodic jobs", () => {
  test("launches a child ID/periodic-<unix time> on every cron tick, and on `force`", async () => {
    await submit(L, {
      id: "tick", type: "batch",
      periodic: { crons: ["*/2 * * * * * *"], prohibit_overlap: false },
      groups: [{ name: "g", tasks: [{ name: "t", command: BUN, args: ["-e", ""], resources: { cpu: 100, memory: 64 } }] }],
    });
    const launched = async () => (await getJson<any[]>(`${L}/v1/jobs`)).body.map((j) => j.id as string).filter((id) => /^tick\/periodic-\d+$/.test(id));
    const ids = await eventually(async () => {
      const l = await launched();
      return l.length >= 3 && l;
    }, 20_000);
    const times = ids.map((id) => Number(id.split("-")[1])).sort((x, y) => x - y);
    for (const t of times) expect(t % 2).toBe(0);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(2); // none missed, none twice
    await eventually(async () => (await getJson(`${L}/v1/job/${enc(ids[0]!)}`)).body.status === "dead", 20_000);

    // force: a launch now, outside the schedule (the child of the same second may already exist: then 409).
    const force = await eventually(async () => {
      const r = await getJson(`${L}/v1/job/tick/periodic/force`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      return r.status === 200 && r.body;
    }, 5000, 300);
    expect(force.childJobId).toMatch(/^tick\/periodic-\d+$/);
    expect((await getJson(`${L}/v1/job/${enc(force.childJobId)}`)).body.spec.parentId).toBe("tick");

    await stopJob(L, "tick");
    const forcedAfterStop = await getJson(`${L}/v1/job/tick/periodic/force`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(forcedAfterStop.body).toMatchObject({ code: "JOB_STOPPED" });
  }, 60_000);

  test("prohibit_overlap: no launch while the previous child still runs", async () => {
    await submit(L, {
      id: "long", type: "batch",
      periodic: { crons: ["* * * * * * *"], prohibit_overlap: true },
      groups: [{ name: "g", tasks: [{ name: "t", command: BUN, args: SLEEPER, resources: { cpu: 100, memory: 64 } }] }],
    });
    const children = async () => (await getJson<any[]>(`${L}/v1/jobs`)).body.filter((j) => j.id.startsWith("long/periodic-"));
    await eventually(async () => (await children()).some((j) => j.status === "running"), 20_000);
    await sleep(4000);
    expect((await children()).length).toBe(1);
    await stopJob(L, "long");
    for (const c of await children()) await stopJob(L, enc(c.id));
  }, 60_000);
});
