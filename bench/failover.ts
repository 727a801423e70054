// Failover time over repeated kills: three leader-role processes (default
// election timeout 1000 ms); kill -9 the leader, time until a write through a
// survivor succeeds, restart the killed node, repeat. Prints one JSON line
// with the distribution and how many kills stayed within 2x the election
// timeout.   npx bun bench/failover.ts [--kills 20] [--election-ms 1000]
import { TestCluster } from "../test/helpers/cluster.ts";
import { sleep } from "../test/helpers/proc.ts";
import { numberFlag } from "./support/args.ts";

const KILLS = numberFlag("kills", 20);
const ELECTION_MS = numberFlag("election-ms", 1000);

const c = new TestCluster({ size: 3, direct: true, electionTimeoutMs: ELECTION_MS });
await c.start();
const times: number[] = [];
try {
  for (let k = 0; k < KILLS; k++) {
    const leader = await c.waitLeader();
    const survivor = c.nodes.find((n) => n.index !== leader)!;
    await c.kill(leader);
    const t0 = Date.now();
    for (;;) {
      const r = await fetch(`${survivor.url}/v1/kv/failover/${k}`, { method: "PUT", body: "x", signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      if (r?.status === 200 && (await r.json()) === true) break;
      if (Date.now() - t0 > 30_000) throw new Error(`kill ${k}: no leader after 30 s`);
      await sleep(5);
    }
    times.push(Date.now() - t0);
    await c.startNode(leader);
    await sleep(ELECTION_MS); // let the restarted node catch up before the next kill
  }
} finally {
  await c.stop();
}
const sorted = [...times].sort((a, b) => a - b);
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
console.log(JSON.stringify({
  bench: "failover", kills: KILLS, election_timeout_ms: ELECTION_MS,
  min_ms: sorted[0], p50_ms: q(0.5), p90_ms: q(0.9), max_ms: sorted[sorted.length - 1],
  within_2x_election: times.filter((t) => t <= 2 * ELECTION_MS).length, runs_ms: times,
}));
