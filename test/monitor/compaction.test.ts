// A resume point compacted away: a dev process with a small
// raft.snapshot_threshold answers with `event: reset` at the current index,
// then streams on from there.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { dataOf, openSse } from "../helpers/sse.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev", config: "[raft]\nsnapshot_threshold = 16\n" });
});
afterAll(killAll);

test("reset after compaction, then live events", async () => {
  for (let i = 0; i < 40; i++) expect((await fetch(`${p.url}/v1/kv/c/${i}`, { method: "PUT", body: "x" })).status).toBe(200);
  const applied = Number((await getJson(p.url + "/v1/nodes")).headers.get("x-corral-index"));
  const s = await openSse(`${p.url}/v1/events?topic=kv&index=1`);
  await s.until((m) => m.length === 1);
  expect(s.messages[0]!.event).toBe("reset");
  // The reset carries the index to continue from: at least what this client had seen applied.
  const resetAt = Number(s.messages[0]!.id);
  expect(resetAt).toBeGreaterThanOrEqual(applied);
  expect(dataOf(s.messages)[0]).toMatchObject({ topic: "reset", type: "StreamReset", index: resetAt });
  expect(dataOf(s.messages)[0].payload.reason).toContain("compacted");
  await fetch(`${p.url}/v1/kv/c/after`, { method: "PUT", body: "x" });
  await s.until((m) => m.length === 2);
  expect(s.messages[1]).toMatchObject({ event: "kv" });
  expect(Number(s.messages[1]!.id)).toBeGreaterThan(resetAt);
  expect(dataOf(s.messages)[1].payload.key).toBe("c/after");
  // Resuming from the reset's id needs nothing compacted: no second reset.
  const again = await openSse(`${p.url}/v1/events?topic=kv`, { "last-event-id": String(resetAt) });
  await again.until((m) => m.length === 1);
  expect(again.messages[0]!.event).toBe("kv");
  await s.cancel();
  await again.cancel();
}, 30_000);
