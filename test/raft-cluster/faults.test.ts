// Jepsen-style fault test on real processes (test/raft-cluster/jepsen.ts):
// kill -9 of the leader and of random members, SIGSTOP/SIGCONT of the leader,
// a follower and two members at once, partitions, compaction every 64
// entries, default and ?consistent reads, the history judged by
// test/lincheck. Bounded for `npm test`; the longer campaign is
// `npx bun test/raft-cluster/campaign.ts --runs N`. CORRAL_FAULT_MS sizes
// this run.
import { describe, expect, test } from "bun:test";
import { jepsenRun } from "./jepsen.ts";

const RUN_MS = Number(process.env.CORRAL_FAULT_MS ?? 20_000);

describe("fault injection with a linearizability check", () => {
  test("kills, pauses, restarts and partitions lose no acknowledged write; default and ?consistent reads stay linearizable", async () => {
    const r = await jepsenRun({ runMs: RUN_MS });
    console.log(
      `faults: ${r.faults.log.join(", ")}; paused leaders probed ${r.faults.probes}\n` +
        `ops ${r.ops}: writes ${r.writes} (ok ${r.writesOk}, info ${r.info} = ${(100 * r.infoFraction).toFixed(2)}% ${JSON.stringify(r.infoWhy)}), ` +
        `reads ok default ${r.reads.default}, consistent ${r.reads.consistent}; verdicts ${JSON.stringify(r.verdicts)}`,
    );
    if (r.verdicts.all !== "linearizable") console.log(JSON.stringify(r.counterexample, null, 2));
    expect(r.faults.pauses + r.faults.kills).toBeGreaterThanOrEqual(2);
    expect(r.writesOk).toBeGreaterThan(50);
    expect(r.reads.default).toBeGreaterThan(20);
    expect(r.reads.consistent).toBeGreaterThan(20);
    expect(r.verdicts).toEqual({ all: "linearizable", default: "linearizable", consistent: "linearizable" });
  }, RUN_MS + 120_000);
});
