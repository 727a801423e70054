// The long fault campaign (issue 23): N Jepsen-style runs of
// test/raft-cluster/jepsen.ts, one after another, each on a fresh 3-node
// cluster. Prints a line per run on stderr and one JSON line on stdout:
//   {"runs","ops","writes","info","infoFraction","pauses","kills","isolations",
//    "verdicts":{"all":{...},"default":{...},"consistent":{...}},"ms"}
// (verdict counts over runs). Exit 1 if any run is not linearizable.
//
//   npx bun test/raft-cluster/campaign.ts --runs 10 [--ms 20000] [--seed 1]
import { parseArgs } from "node:util";
import { jepsenRun, type RunReport, type Verdicts } from "./jepsen.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    ms: { type: "string", default: "20000" },
    seed: { type: "string" },
    election: { type: "string", default: "500" },
  },
});
const runs = Number(values.runs);
const runMs = Number(values.ms);
const seed0 = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000;
if (!Number.isInteger(runs) || runs < 1 || !Number.isFinite(runMs) || runMs < 3000) {
  console.error("usage: campaign.ts --runs N (>= 1) [--ms MS (>= 3000)] [--seed S] [--election MS]");
  process.exit(2);
}

const started = Date.now();
const reports: RunReport[] = [];
const tally = { all: {} as Record<string, number>, default: {} as Record<string, number>, consistent: {} as Record<string, number> };
for (let i = 0; i < runs; i++) {
  const seed = seed0 + i;
  const r = await jepsenRun({ runMs, seed, electionMs: Number(values.election) });
  reports.push(r);
  for (const k of Object.keys(tally) as (keyof Verdicts)[]) tally[k][r.verdicts[k]] = (tally[k][r.verdicts[k]] ?? 0) + 1;
  console.error(
    `run ${i + 1}/${runs} seed ${seed}: ops ${r.ops}, writes ${r.writes}, info ${r.info} (${(100 * r.infoFraction).toFixed(2)}%) ${JSON.stringify(r.infoWhy)}, ` +
      `faults ${r.faults.log.join(", ")}; verdicts ${JSON.stringify(r.verdicts)}`,
  );
  if (r.verdicts.all !== "linearizable") console.error(JSON.stringify(r.counterexample));
}
const sum = (f: (r: RunReport) => number) => reports.reduce((a, r) => a + f(r), 0);
const writes = sum((r) => r.writes);
const info = sum((r) => r.info);
const infoWhy: Record<string, number> = {};
for (const r of reports) for (const [k, n] of Object.entries(r.infoWhy)) infoWhy[k] = (infoWhy[k] ?? 0) + n;
console.log(JSON.stringify({
  runs, runMs, seed: seed0,
  ops: sum((r) => r.ops), writes, info, infoFraction: writes ? Number((info / writes).toFixed(5)) : 0, infoWhy,
  readsOk: { default: sum((r) => r.reads.default), consistent: sum((r) => r.reads.consistent) },
  pauses: sum((r) => r.faults.pauses), kills: sum((r) => r.faults.kills), isolations: sum((r) => r.faults.isolations),
  pausedLeaderProbes: sum((r) => r.faults.probes),
  verdicts: tally, ms: Date.now() - started,
}));
process.exit(reports.every((r) => r.verdicts.all === "linearizable") ? 0 : 1);
