// Node garbage collection in the state domain (core/state/domains/node-gc.ts
// through the GarbageCollect entry): which nodes are chosen, that the applier
// re-checks each one when the entry applies (a node that came back, or got a
// live allocation, in between is kept) and that a collected node takes its
// catalog services and checks, its terminal allocations and its per-node rows.
import { afterEach, describe, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { gcVersion } from "../../core/state/domains/gc.ts";
import { nodeCollectable } from "../../core/state/domains/node-gc.ts";
import { newerFormatProblem } from "../../core/state/command-versions.ts";
import { clientOf } from "../../core/store/db.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "./fixtures.ts";

let t: TestState;
afterEach(async () => t?.close());

const down = (nodeId: string, at: number): Command => ({ type: "SetNodeStatus", v: 1, at, nodeId, status: "down" });
const up = (nodeId: string, at: number): Command => ({ type: "SetNodeStatus", v: 1, at, nodeId, status: "ready" });
const service = (nodeId: string, name: string): Command => ({
  type: "RegisterService", v: 1, at: 1,
  node: { id: nodeId, name: `node-${name}`, address: "127.0.0.1", datacenter: "dc1" },
  service: { id: `${name}-1`, name, tags: [], address: "", port: 80, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false },
  checks: [{ id: `${name}-check`, name: "c", status: "passing", notes: "", output: "", serviceId: `${name}-1`, type: "ttl", definition: {} }],
});

function placement(id: string, nodeId: string) {
  return {
    id, group: "web", taskGroupIndex: 0, nodeId, resources: { cpuMhz: 100, memoryMb: 64 },
    ports: [], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
  };
}

/** A service job with one allocation on `nodeId`, reported running. */
async function runningAlloc(jobId: string, nodeId: string): Promise<string> {
  const ev = uuid();
  await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob(jobId), evalId: ev });
  const a = uuid();
  await t.propose({ type: "CommitPlan", v: 1, at: 10, evalId: ev, namespace: "default", jobId, jobVersion: 0, placements: [placement(a, nodeId)], stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [] } as Command);
  await t.propose({ type: "UpdateAllocStatus", v: 1, at: 20, nodeId, updates: [{ allocId: a, clientStatus: "running", description: "", taskStates: {} }] });
  return a;
}

const count = (sql: string, ...args: unknown[]) => (clientOf(t.store.db).prepare(sql).get(...args) as { n: number }).n;
const cutAll = () => ({ job: 0, eval: 0, deployment: 0, nodeDownBefore: 1_000 });

describe("node garbage collection (state)", () => {
  test("eligibility: down (not ready), down at or before the cut-off, nothing live", () => {
    expect(nodeCollectable({ status: "down", statusChangedAt: 100, liveAllocs: 0 }, 100)).toBe(true);
    expect(nodeCollectable({ status: "down", statusChangedAt: 101, liveAllocs: 0 }, 100)).toBe(false);
    expect(nodeCollectable({ status: "ready", statusChangedAt: 0, liveAllocs: 0 }, 100)).toBe(false);
    expect(nodeCollectable({ status: "down", statusChangedAt: 0, liveAllocs: 1 }, 100)).toBe(false);
  });

  test("an entry naming nodes is v2: a release before node GC stops by name instead of keeping them (diverging)", () => {
    expect(gcVersion({ nodes: [{ id: "n", modifyIndex: 1 }] })).toBe(2);
    expect(gcVersion({ nodes: [] })).toBe(1);
    expect(gcVersion({})).toBe(1);
    // What such a release says of a v2 entry (it knew GarbageCollect up to v1):
    expect(newerFormatProblem(7, { type: "GarbageCollect", v: 3 })).toContain("upgrade corral");
    expect(newerFormatProblem(7, { type: "GarbageCollect", v: 2 })).toBeUndefined(); // this release applies it
  });

  test("a node down past the cut-off goes with its catalog entries; a ready one, a recently down one and one with a live allocation stay", async () => {
    t = await testState();
    const [gone, ready, recent, busy] = [uuid(3001), uuid(3002), uuid(3003), uuid(3004)];
    for (const [id, name] of [[gone, "gone"], [ready, "ready"], [recent, "recent"], [busy, "busy"]] as const) {
      await t.propose(registerNode(id, name));
      await t.propose(service(id, name));
    }
    await t.propose(down(gone, 500));
    await t.propose(down(recent, 2_000));
    await runningAlloc("web", busy);
    await t.propose(down(busy, 500));

    const c = t.state.jobs.gcCandidates(cutAll());
    expect(c.nodes.map((n) => n.id)).toEqual([gone]);
    const out = await t.propose({ type: "GarbageCollect", v: gcVersion(c), at: 5_000, ...c });
    expect(out.result.value).toMatchObject({ nodes: 1 });
    expect(t.state.getNode(gone)).toBeUndefined();
    expect(count("SELECT count(*) AS n FROM services WHERE node_id = ?", gone)).toBe(0);
    expect(count("SELECT count(*) AS n FROM checks WHERE node_id = ?", gone)).toBe(0);
    expect(count("SELECT count(*) AS n FROM catalog_nodes WHERE id = ?", gone)).toBe(0);
    for (const id of [ready, recent, busy]) {
      expect(t.state.getNode(id)).toBeDefined();
      expect(count("SELECT count(*) AS n FROM services WHERE node_id = ?", id)).toBe(1);
    }
    // Without a node cut-off (older callers), no node is chosen.
    expect(t.state.jobs.gcCandidates({ job: 0, eval: 0, deployment: 0 }).nodes).toEqual([]);
  });

  test("the applier re-checks: a node that came back (even down again), or got a live allocation, since it was chosen is kept", async () => {
    t = await testState();
    const [flap, busy] = [uuid(3101), uuid(3102)];
    await t.propose(registerNode(flap, "flap"));
    await t.propose(registerNode(busy, "busy"));
    await t.propose(down(flap, 100));
    await t.propose(down(busy, 100));
    const c = t.state.jobs.gcCandidates(cutAll());
    expect(c.nodes.map((n) => n.id).sort()).toEqual([flap, busy].sort());
    // Between proposal and apply: flap returns and goes down again, busy gets a running allocation.
    await t.propose(up(flap, 200));
    await t.propose(down(flap, 300));
    await t.propose(up(busy, 200));
    await runningAlloc("web", busy);
    await t.propose(down(busy, 300));
    const out = await t.propose({ type: "GarbageCollect", v: gcVersion(c), at: 5_000, ...c });
    expect(out.result.value).toMatchObject({ nodes: 0 });
    expect(t.state.getNode(flap)).toBeDefined();
    expect(t.state.getNode(busy)).toBeDefined();
  });

  test("a collected node's terminal allocations and its per-node deletion index go with it", async () => {
    t = await testState();
    const n = uuid(3201);
    await t.propose(registerNode(n, "n"));
    const a = await runningAlloc("web", n);
    await t.propose({ type: "UpdateAllocStatus", v: 1, at: 30, nodeId: n, updates: [{ allocId: a, clientStatus: "failed", description: "", taskStates: {} }] });
    await t.propose(down(n, 100));
    // A terminal allocation does not keep the node.
    const c = t.state.jobs.gcCandidates(cutAll());
    expect(c.nodes.map((x) => x.id)).toEqual([n]);
    await t.propose({ type: "GarbageCollect", v: gcVersion(c), at: 5_000, ...c });
    expect(t.state.getNode(n)).toBeUndefined();
    expect(t.state.jobs.getAlloc(a)).toBeUndefined();
    expect(count("SELECT count(*) AS n FROM node_alloc_deletions WHERE node_id = ?", n)).toBe(0);
  });
});
