// The dashboard at scale (issue 18 point 7): a dev node seeded with 100,000
// jobs and 10,000 nodes (test/helpers/seed-scale.ts), and Chromium's time
// from navigation to the overview's counts, the overview's lists, and the
// jobs, nodes and allocations lists' first rows (test/ui/scale-harness.ts).
// Goal: each < 1 s. Beside them, in the same run: the same timings on a
// small seeded node (the baseline: a ratio near 1 says the cost does not grow
// with the cluster), and how long the whole job list takes to fetch — what
// the overview fetched before it paged.
//   npx bun bench/ui-scale.ts [--jobs 100000] [--nodes 10000] [--runs 3] [--baseline-jobs 1000]
// Prints one JSON line.
import { killAll } from "../test/helpers/proc.ts";
import { HAVE_CHROMIUM, launch } from "../test/ui/browser.ts";
import { GOAL_MS, measure, seededNode, type UiTimings } from "../test/ui/scale-harness.ts";
import { numberFlag } from "./support/args.ts";

const JOBS = numberFlag("jobs", 100_000);
const NODES = numberFlag("nodes", 10_000);
const RUNS = numberFlag("runs", 3);
const BASE_JOBS = numberFlag("baseline-jobs", 1000);

if (!HAVE_CHROMIUM) {
  console.log(JSON.stringify({ bench: "ui-scale", skipped: "no Chromium (apt-get install chromium, or set CORRAL_CHROMIUM)" }));
  process.exit(0);
}

async function run(jobs: number, nodes: number) {
  const s = await seededNode({ jobs, nodes });
  const browser = await launch();
  try {
    const { timings } = await measure(browser, s.node.url, { jobs, nodes }, RUNS);
    // The old overview's request: every job, with its allocation counts.
    const t0 = performance.now();
    let wholeListMs: number | null = null;
    let wholeListBytes = 0;
    try {
      const r = await fetch(s.node.url + "/v1/jobs", { signal: AbortSignal.timeout(180_000) });
      wholeListBytes = (await r.arrayBuffer()).byteLength;
      wholeListMs = Math.round(performance.now() - t0);
    } catch {
      wholeListMs = null; // over 3 minutes
    }
    return { timings, seedMs: s.seeded.ms, startMs: s.startMs, wholeListMs, wholeListBytes };
  } finally {
    await browser.close();
    await killAll();
  }
}

const base = await run(BASE_JOBS, Math.max(1, Math.round(BASE_JOBS / 10)));
const full = await run(JOBS, NODES);
const ratio = Object.fromEntries(Object.entries(full.timings).map(([k, v]) => [k, Math.round((v / Math.max(1, base.timings[k as keyof UiTimings])) * 100) / 100]));
const worst = Math.max(...Object.values(full.timings));
console.log(JSON.stringify({
  bench: "ui-scale", jobs: JOBS, nodes: NODES, goal_ms: GOAL_MS, met: worst < GOAL_MS, worst_ms: worst,
  ...full.timings,
  baseline: { jobs: BASE_JOBS, ...base.timings }, ratio_to_baseline: ratio,
  whole_job_list_ms: full.wholeListMs, whole_job_list_bytes: full.wholeListBytes,
  seed_ms: full.seedMs, node_start_ms: full.startMs,
}));
process.exit(0);
