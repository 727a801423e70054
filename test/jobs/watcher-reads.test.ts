// The health watcher reads each rolling-out job's allocations once, for its
// candidates and its deployment's outcome alike (it read them twice per tick,
// then once per tick, every second, for every job with a running
// deployment), without their group specs (no full rows); after that it reads
// only the allocations written since its last tick (watched-allocs.ts), and
// still decides the same: a deployment whose allocations are all healthy
// succeeds, and one whose allocation turns unhealthy since fails.
import { expect, test } from "bun:test";
import { HealthWatcher } from "../../core/cluster/scheduling/watcher.ts";
import { silentLogger } from "../../core/log.ts";
import type { Command } from "../../core/state/commands.ts";
import type { StateReader } from "../../core/state/reader.ts";
import type { AllocRow, DeploymentRow, JobRow } from "../../core/store/schema-jobs.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import { simpleJob } from "./fixtures.ts";

test("one read of a rolling-out job's allocations, then only what changed; its deployment's outcome still follows them", async () => {
  const spec = simpleJob("web", { count: 2 });
  const job = { namespace: "default", id: "web", version: 0, stop: false, stableVersion: null, spec, priority: 50, type: "service" } as unknown as JobRow;
  const hash = groupHash(spec, spec.groups[0]!);
  const alloc = (id: string) => ({
    id, namespace: "default", jobId: "web", groupName: "web", taskGroupIndex: 0, groupHash: hash, deploymentId: "d1", health: "healthy",
    desiredStatus: "run", clientStatus: "running", jobType: "service", taskStates: {}, createdAt: 0,
  }) as unknown as AllocRow;
  const dep = { id: "d1", namespace: "default", jobId: "web", jobVersion: 0, status: "running", groups: { web: { desired: 2, placed: 2, healthy: 2, unhealthy: 0, autoRevert: false } } } as unknown as DeploymentRow;
  let reads = 0;
  let allocsIndex = 10;
  let changed: AllocRow[] = [];
  const state = {
    tableIndex: (t: string) => (t === "allocations" ? allocsIndex : 1),
    jobs: {
      allocsLeanChangedSince: (since: number) => ({ changed: changed.filter(() => since < allocsIndex), deletedOnNodes: [] }),
      listDeployments: () => [dep],
      healthCandidates: () => [],
      jobAllocsLean: () => (reads++, [alloc("a1"), alloc("a2")]),
      listAllocs: () => {
        throw new Error("the watcher read full allocation rows");
      },
      taskCheckStatuses: () => () => [],
      getJob: () => job,
      getAlloc: () => undefined,
      drains: () => [],
    },
  } as unknown as StateReader;
  const proposed: Command[] = [];
  const w = new HealthWatcher({
    state, log: silentLogger, now: () => 1_000_000, newId: () => "x", evaluate: async () => {},
    propose: async (cmd) => (proposed.push(cmd), { index: 1, result: { ok: true } }),
  });
  await w.tick();
  expect(reads).toBe(1);
  expect(proposed).toEqual([{ type: "UpdateDeployment", v: 1, at: 1_000_000, health: [], deployments: [{ id: "d1", status: "successful", description: "every allocation is healthy" }] }]);
  await w.tick(); // nothing changed: nothing read
  expect(reads).toBe(1);
  // One allocation turns unhealthy: the next tick reads that row only, and the deployment fails.
  changed = [{ ...alloc("a2"), taskGroupIndex: 1, health: "unhealthy" } as AllocRow];
  allocsIndex = 11;
  proposed.length = 0;
  await w.tick();
  expect(reads).toBe(1);
  expect(proposed).toEqual([{ type: "UpdateDeployment", v: 1, at: 1_000_000, health: [], deployments: [{ id: "d1", status: "failed", description: "allocation a2 (web[1]) is unhealthy" }] }]);
});
