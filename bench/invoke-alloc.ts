// What one call through the raw-socket listener allocates, by object type:
// the in-process path of bench/invoke-path.ts (fake sockets, no kernel),
// with JavaScriptCore's live-object counts (bun:jsc heapStats) taken right
// before and after a batch of calls too small to trigger a collection. Cells
// allocated since the last collection count as live until the next one, so
// the difference is what the batch allocated. Garbage per request is what
// sets how often the one JavaScript thread stops for an eden collection —
// the pauses behind the proxy's p99 under load (docs/invoke.md).
//   npx bun bench/invoke-alloc.ts [--calls 2000] [--top 25]
import { heapStats } from "bun:jsc";
import { numberFlag } from "./support/args.ts";
import { pathRig } from "./support/invoke-path-rig.ts";

const CALLS = numberFlag("calls", 2000);
const TOP = numberFlag("top", 25);

const rig = await pathRig();
const counts = () => heapStats().objectTypeCounts as Record<string, number>;

/** Live-object counts by type before and after `n` calls of `run` (warmed first), per call. */
async function allocated(run: (n: number) => Promise<void>): Promise<Record<string, number>> {
  await run(20_000); // warm the JIT
  Bun.gc(true);
  const before = counts();
  await run(CALLS);
  const after = counts();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = (v - (before[k] ?? 0)) / CALLS;
  return out;
}

// The rig's own objects per call (its Buffers and microtask closures) are measured alone and taken off.
const bare = await allocated(rig.runBare);
const corral = await allocated(rig.run);
const per: [string, number][] = [];
for (const [k, v] of Object.entries(corral)) {
  const d = Math.round((v - (bare[k] ?? 0)) * 100) / 100;
  if (d >= 0.01) per.push([k, d]);
}
per.sort((a, b) => b[1] - a[1]);
console.log(JSON.stringify({
  bench: "invoke-alloc", calls: CALLS,
  objectsPerCall: Math.round(per.reduce((s, [, d]) => s + d, 0) * 100) / 100,
  byType: Object.fromEntries(per.slice(0, TOP)),
}));
rig.stop();
process.exit(0);
