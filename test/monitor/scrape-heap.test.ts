// A Prometheus scrape must not stall the node: under Bun, prom-client's
// nodejs_heap_space_size_* gauges read node:v8's getHeapSpaceStatistics,
// which there walks the whole JavaScript heap (35-50 ms on an agent, during
// which its event loop answers nothing: every proxied or mesh call in flight
// waited, once per scrape). corral drops those three under Bun and keeps the
// heap's size and use (nodejs_heap_size_*, from process.memoryUsage()).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev" });
}, 90_000);
afterAll(killAll);

test("/metrics under Bun has the heap's size and use, and no series that walks the heap", async () => {
  const r = await fetch(`${p.url}/metrics`);
  expect(r.status).toBe(200);
  const names = new Set((await r.text()).split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]));
  expect(names.has("nodejs_heap_size_used_bytes")).toBe(true);
  expect(names.has("nodejs_heap_size_total_bytes")).toBe(true);
  expect([...names].filter((n) => n!.startsWith("nodejs_heap_space_"))).toEqual([]);
});
