// Garbage per proxied call on the raw-socket listener, counted in process
// (the in-process rig of bench/invoke-alloc.ts: fake sockets, no kernel).
// Garbage is what sets how often JavaScriptCore stops the proxy's one thread
// for a collection — the pauses behind its p99 under load (docs/invoke.md,
// "Performance") — and it creeps back unnoticed: a closure or an
// Array.find predicate on the hot path allocates on every request, which no
// functional test sees. JSC's live-object counts before and after a batch
// too small to trigger a collection give what the batch allocated.
import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { pathRig } from "../../bench/support/invoke-path-rig.ts";

const CALLS = 2000;
const counts = () => heapStats().objectTypeCounts as Record<string, number>;

async function perCall(run: (n: number) => Promise<void>): Promise<Record<string, number>> {
  await run(20_000); // warm the JIT: the counts are those of the optimised code
  Bun.gc(true);
  const before = counts();
  await run(CALLS);
  const after = counts();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = (v - (before[k] ?? 0)) / CALLS;
  return out;
}

describe("garbage per proxied call (HTTP/1.1 listener)", () => {
  test("no closure per call, and a bounded number of objects", async () => {
    const rig = await pathRig();
    try {
      const bare = await perCall(rig.runBare); // the rig's own (its Buffers, microtask closures)
      const corral = await perCall(rig.run);
      const own = (k: string) => (corral[k] ?? 0) - (bare[k] ?? 0);
      const total = Object.keys(corral).reduce((s, k) => s + Math.max(0, own(k)), 0);
      // Closures come as a Function and often a scope (JSLexicalEnvironment) each.
      expect(own("Function") + own("JSLexicalEnvironment")).toBeLessThan(2);
      expect(total).toBeLessThan(16);
    } finally {
      rig.stop();
    }
  }, 60_000);
});
