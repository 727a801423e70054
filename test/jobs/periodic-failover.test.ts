// A periodic job launching every second on three leader-role processes,
// across a kill -9 of the Raft leader: the new leader continues the schedule
// from the launches recorded in the log, so no launch time is missed (the
// ones due while no one led are launched late) and none is launched twice
// (a launch time is a key the applier refuses to record again).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";
import { eventually, getJson, sleep } from "../helpers/proc.ts";

let c: TestCluster;

beforeAll(async () => {
  c = new TestCluster({ size: 3, electionTimeoutMs: 1000 });
  await c.start();
  await c.waitLeader();
}, 60_000);
afterAll(() => c?.stop());

const live = () => c.nodes.filter((n) => n.proc);

async function launchTimes(url: string): Promise<number[]> {
  const r = await getJson<any[]>(`${url}/v1/jobs`);
  if (r.status !== 200) return [];
  return r.body.map((j) => /^nightly\/periodic-(\d+)$/.exec(j.id)?.[1]).filter((x): x is string => !!x).map(Number).sort((a, b) => a - b);
}

describe("periodic launches across a leader failover", () => {
  test("every one-second tick is launched exactly once, before, during and after the kill", async () => {
    const leader = await c.waitLeader();
    const url = c.nodes[leader]!.url;
    const r = await getJson(`${url}/v1/jobs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "nightly", type: "batch", periodic: { crons: ["* * * * * * *"] },
        groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 10, memory: 8 } }] }],
      }),
    });
    expect(r.status).toBe(200);
    const before = await eventually(async () => {
      const t = await launchTimes(url);
      return t.length >= 2 && t;
    }, 15_000);

    await c.kill(leader);
    const killedAt = Date.now();
    await c.waitLeader();
    // Wait until launches continue well past the kill.
    const survivor = live()[0]!.url;
    const after = await eventually(async () => {
      const t = await launchTimes(survivor);
      return t.length > 0 && t[t.length - 1]! * 1000 > killedAt + 6000 && t;
    }, 30_000, 250);
    expect(after.slice(0, before.length)).toEqual(before);
    for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBe(1);
    // The applier refused re-launches: still one child per tick a little later.
    await sleep(2500);
    const later = await launchTimes(survivor);
    expect(new Set(later).size).toBe(later.length);
    for (let i = 1; i < later.length; i++) expect(later[i]! - later[i - 1]!).toBe(1);
  }, 90_000);
});
