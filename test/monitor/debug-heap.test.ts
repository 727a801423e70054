// The off-by-default heap hook (core/debug-heap.ts, docs/scale.md "Flat under
// churn"): with CORRAL_DEBUG_HEAP_FILE set, SIGUSR2 makes a real node write its
// heap by object type after a full GC, and the sizes of its long-lived maps.
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, killAll, startCorral, tempDir, waitHealthy } from "../helpers/proc.ts";

afterAll(killAll);

test("SIGUSR2 writes the heap by type and the leader's map sizes to CORRAL_DEBUG_HEAP_FILE", async () => {
  const file = join(tempDir("corral-heap-"), "heap.json");
  const p = await startCorral({ env: { CORRAL_DEBUG_HEAP_FILE: file } });
  await waitHealthy(p);
  // The dev node's own agent has joined: membership knows one node.
  await eventually(async () => (await fetch(`${p.url}/v1/nodes`).then((r) => r.json() as Promise<unknown[]>)).length === 1, 20_000);
  p.child.kill("SIGUSR2");
  await eventually(() => existsSync(file), 20_000);
  const dump = JSON.parse(readFileSync(file, "utf8"));
  expect(dump.heapSize).toBeGreaterThan(0);
  expect(dump.objectTypeCounts.Object).toBeGreaterThan(0);
  expect(dump.sizes["membership.lastSeen"]).toBe(1);
  expect(dump.sizes["nodeMonitor.historyRings"]).toBeGreaterThanOrEqual(0);
  expect(typeof dump.sizes["sqlite.statements"]).toBe("number");
  // Still running: the signal is the hook's, not a kill.
  expect((await fetch(`${p.url}/v1/agent/self`)).status).toBeLessThan(500);
}, 120_000);
