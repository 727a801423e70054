// What a proxied call on the raw-socket listener costs that no functional
// test sees, counted in process (the rig of bench/invoke-alloc.ts and
// invoke-path.ts: fake sockets, no kernel). Both creep back unnoticed:
// - garbage: a closure or an Array.find predicate on the hot path allocates
//   on every request, and garbage sets how often JavaScriptCore stops the
//   proxy's one thread for a collection (docs/invoke.md, "Performance").
//   JSC's live-object counts before and after a batch too small to trigger
//   a collection give what the batch allocated;
// - clock reads: each is a native call (~40 ns, a tenth of a call's own
//   JavaScript at five of them).
import { describe, expect, test } from "bun:test";
import { objectsPerCall } from "../../bench/support/objects-per-call.ts";
import { pathRig } from "../../bench/support/invoke-path-rig.ts";

const CALLS = 2000;
const perCall = (run: (n: number) => Promise<void>) => objectsPerCall(run, CALLS);

describe("per proxied call (HTTP/1.1 listener)", () => {
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

  test("the wall clock is read at most twice (the service's last use, the call's deadline)", async () => {
    let reads = 0;
    const rig = await pathRig(undefined, () => (reads++, Date.now()));
    try {
      await rig.run(1000); // warm up: the service's first view
      reads = 0;
      await rig.run(CALLS);
      expect(reads / CALLS).toBeLessThanOrEqual(2);
    } finally {
      rig.stop();
    }
  }, 60_000);
});
