// Objects allocated per call, by type: JavaScriptCore's live-object counts
// (bun:jsc heapStats) right before and after a batch of calls too small to
// trigger a collection (cells allocated since the last one count as live
// until the next). Shared by bench/invoke-alloc.ts and test/invoke/hot-path.test.ts.
import { heapStats } from "bun:jsc";

const counts = () => heapStats().objectTypeCounts as Record<string, number>;

/** Counts per call over `calls` calls of `run`, after 20,000 to warm the JIT (the counts are the optimised code's). */
export async function objectsPerCall(run: (n: number) => Promise<void>, calls: number): Promise<Record<string, number>> {
  await run(20_000);
  Bun.gc(true);
  const before = counts();
  await run(calls);
  const after = counts();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = (v - (before[k] ?? 0)) / calls;
  return out;
}
