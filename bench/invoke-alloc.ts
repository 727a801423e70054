// What one call through the raw-socket listener allocates: the in-process
// path of bench/invoke-path.ts (fake sockets, no kernel; support/invoke-path-rig.ts).
// Garbage per request is what sets how often the one JavaScript thread stops
// for an eden collection — the pauses behind the proxy's p99 under load
// (docs/invoke.md, "Performance") — and, unlike req/s, other load on the
// machine does not change it.
//
// Two figures:
// - objects per call by type: JavaScriptCore's live-object counts (bun:jsc
//   heapStats) right before and after a batch of calls too small to trigger
//   a collection (cells allocated since the last one count as live until the
//   next), less the rig's own;
// - bytes per call and collections per 100,000 calls: a child process runs
//   --calls-gc calls under JSC's GC log (Bun's 1 s GC timer off, so only
//   allocation triggers a collection) and the heap's growth between
//   collections is added up; the rig's own is measured alone beside it.
//
//   npx bun bench/invoke-alloc.ts [--calls 2000] [--calls-gc 300000] [--top 25] [--tree DIR]
import { spawnSync } from "node:child_process";
import { BUN, ROOT } from "../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { pathRig } from "./support/invoke-path-rig.ts";

const CALLS = numberFlag("calls", 2000);
const CALLS_GC = numberFlag("calls-gc", 300_000);
const TOP = numberFlag("top", 25);
const TREE = stringFlag("tree", ROOT);
const CHILD = stringFlag("child", "");
const MARK = "=== invoke-alloc";

const rig = await pathRig(TREE);

if (CHILD) {
  // Under the GC log: warm up, then the measured calls between two marks on stderr.
  const run = CHILD === "bare" ? rig.runBare : rig.run;
  await run(20_000);
  process.stderr.write(`${MARK} start\n`);
  await run(CALLS_GC);
  process.stderr.write(`${MARK} end\n`);
  rig.stop();
  process.exit(0);
}

const { objectsPerCall } = await import("./support/objects-per-call.ts");
const allocated = (run: (n: number) => Promise<void>) => objectsPerCall(run, CALLS);

/** Bytes allocated per call and collections per 100,000 calls, from a child's GC log. */
function gcFigures(which: "corral" | "bare"): { bytesPerCall: number; collectionsPer100k: number } {
  const r = spawnSync(BUN, [import.meta.path, "--child", which, "--calls-gc", String(CALLS_GC), "--tree", TREE], {
    encoding: "utf8", env: { ...process.env, BUN_JSC_logGC: "1", BUN_GC_TIMER_DISABLE: "1" }, maxBuffer: 64 * 1024 * 1024,
  });
  const log = r.stderr.slice(r.stderr.indexOf(`${MARK} start`), r.stderr.indexOf(`${MARK} end`));
  // "START M <heap before>kb => EdenCollection ... => <heap after>kb": growth between collections is what was allocated.
  let kb = 0;
  let collections = 0;
  let after: number | undefined;
  for (const line of log.split("\n")) {
    const start = /START M (\d+)kb/.exec(line);
    if (start) {
      collections++;
      if (after !== undefined) kb += Number(start[1]) - after;
    }
    const end = /=> (\d+)kb, p=/.exec(line);
    if (end) after = Number(end[1]);
  }
  // The first collection's growth began before the mark: counted as the average of the others.
  const total = collections > 1 ? (kb * collections) / (collections - 1) : 0;
  return { bytesPerCall: Math.round((total * 1024) / CALLS_GC), collectionsPer100k: Math.round((collections * 100_000 * 10) / CALLS_GC) / 10 };
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
rig.stop();
const gc = { corral: gcFigures("corral"), rig: gcFigures("bare") };
console.log(JSON.stringify({
  bench: "invoke-alloc", tree: TREE, calls: CALLS, callsGc: CALLS_GC,
  objectsPerCall: Math.round(per.reduce((s, [, d]) => s + d, 0) * 100) / 100,
  byType: Object.fromEntries(per.slice(0, TOP)),
  // corral's own: the rig's bytes taken off; collections as counted (rig included).
  bytesPerCall: gc.corral.bytesPerCall - gc.rig.bytesPerCall,
  collectionsPer100k: gc.corral.collectionsPer100k,
  rig: gc.rig,
}));
process.exit(0);
