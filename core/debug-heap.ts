// An off-by-default debugging hook for memory growth (docs/scale.md, "Flat
// under churn"): with CORRAL_DEBUG_HEAP_FILE=path in its environment, a node
// writes, on SIGUSR2, its JS heap after a full collection to that file — the
// count of live objects by type (bun:jsc's heapStats) and the sizes of the
// process's long-lived maps that register here. Comparing two such dumps of
// a churn run (early, late) shows what grows. Never an HTTP route: only the
// owner of the process can signal it, and nothing happens without the variable.
import { renameSync, writeFileSync } from "node:fs";

const dynamicImport = new Function("s", "return import(s)") as (s: string) => Promise<unknown>;

/** Sizes of long-lived collections, by name (a leak shows as a name whose size keeps growing). */
const probes = new Map<string, () => number>();

/** Registers a collection's size for the dump (cheap: a closure, called only on a dump). */
export function probeSize(name: string, size: () => number): void {
  if (process.env.CORRAL_DEBUG_HEAP_FILE) probes.set(name, size);
}

/** Installs the SIGUSR2 handler when CORRAL_DEBUG_HEAP_FILE is set; otherwise does nothing. */
export function installHeapDebug(): void {
  const file = process.env.CORRAL_DEBUG_HEAP_FILE;
  // Bun only (bun:jsc); the Node bundle carries this module too, so the import is hidden from bundlers.
  if (!file || typeof Bun === "undefined") return;
  process.on("SIGUSR2", () => {
    void (async () => {
      const { heapStats } = (await dynamicImport("bun:jsc")) as typeof import("bun:jsc");
      Bun.gc(true);
      const s = heapStats();
      const sizes: Record<string, number> = {};
      for (const [name, size] of probes) sizes[name] = size();
      const out = {
        at: new Date().toISOString(),
        heapSize: s.heapSize,
        objectCount: s.objectCount,
        rss: process.memoryUsage().rss,
        objectTypeCounts: s.objectTypeCounts,
        protectedObjectTypeCounts: s.protectedObjectTypeCounts,
        sizes,
      };
      // Whole or not at all: a reader waiting for the file never sees half of it.
      writeFileSync(`${file}.tmp`, JSON.stringify(out));
      renameSync(`${file}.tmp`, file);
    })();
  });
}
