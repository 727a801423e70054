// The health watcher's WatchedAllocs (core/cluster/scheduling/watched-allocs.ts)
// follows the allocations table from the rows written since its last tick.
// Property: after any sequence of placements, status reports, health
// verdicts, stops and deployments starting and ending, fed to it as the
// watcher feeds it, its candidates equal a fresh healthCandidates read and
// each followed job's allocations equal a fresh read of that job, in order.
// LIVE_SEED=<seed> reruns one seed.
import { describe, expect, test } from "bun:test";
import { isHealthCandidate, WatchedAllocs } from "../../core/cluster/scheduling/watched-allocs.ts";
import { seededRng } from "../../core/scheduler/rng.ts";
import type { Rng } from "../../core/scheduler/types.ts";
import type { AllocLean } from "../../core/state/domains/jobs-read.ts";

const SEEDS = process.env.LIVE_SEED ? [process.env.LIVE_SEED] : Array.from({ length: 16 }, (_, i) => `watched-${i}`);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const JOBS = ["j0", "j1", "j2", "j3"];

describe("WatchedAllocs followed from changed rows equals a fresh read", () => {
  for (const seed of SEEDS) {
    test(seed, () => {
      const rng = seededRng(seed);
      const table = new Map<string, AllocLean>();
      let index = 0;
      let seq = 0;
      const write = (row: AllocLean) => table.set(row.id, { ...row, modifyIndex: ++index });
      const step = () => {
        const all = [...table.values()];
        const op = rng();
        if (op < 0.35 || all.length === 0) {
          const i = ++index;
          table.set(`a${String(++seq).padStart(4, "0")}`, {
            id: `a${String(seq).padStart(4, "0")}`, namespace: "default", jobId: pick(rng, JOBS), jobType: rng() < 0.85 ? "service" : "batch",
            groupName: "g", taskGroupIndex: Math.floor(rng() * 5), nodeId: `n${Math.floor(rng() * 4)}`, health: "",
            desiredStatus: "run", clientStatus: "pending", createIndex: i, modifyIndex: i,
          } as unknown as AllocLean);
        } else if (op < 0.6) write({ ...pick(rng, all), clientStatus: pick(rng, ["running", "complete", "failed", "lost"]) } as AllocLean);
        else if (op < 0.8) write({ ...pick(rng, all), health: pick(rng, ["healthy", "unhealthy"]) } as AllocLean);
        else write({ ...pick(rng, all), desiredStatus: "stop" } as AllocLean);
      };
      for (let i = 0; i < 10; i++) step();
      const fresh = () => [...table.values()].filter(isHealthCandidate);
      const jobRead = (jobId: string) => [...table.values()].filter((a) => a.jobId === jobId).sort((a, b) => a.createIndex - b.createIndex || byId(a, b));
      const w = new WatchedAllocs(fresh());
      let seen = index;
      let running: string[] = [];
      for (let round = 0; round < 80; round++) {
        const steps = Math.floor(rng() * 5);
        for (let i = 0; i < steps; i++) step();
        // A tick: the rows written since the last one, then the running deployments' jobs.
        for (const row of table.values()) if (row.modifyIndex > seen) w.apply(row);
        seen = index;
        if (rng() < 0.3) running = JOBS.filter(() => rng() < 0.5);
        w.keepOnly(running.map((jobId) => ({ namespace: "default", jobId })));
        for (const jobId of running) if (!w.isFollowed("default", jobId)) w.follow("default", jobId, jobRead(jobId));

        expect(w.candidates().sort(byId)).toEqual(fresh().sort(byId));
        for (const jobId of JOBS) {
          if (running.includes(jobId)) expect(w.jobAllocs("default", jobId)).toEqual(jobRead(jobId));
          else expect(w.jobAllocs("default", jobId)).toBeUndefined();
        }
      }
    });
  }
});
