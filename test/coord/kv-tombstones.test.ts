// Deleted KV keys' tombstones are reaped (core/state/domains/kv-tombstones.ts)
// once older than [leader] tombstone_ttl, by the leader's collector and by
// `PUT /v1/system/gc`, and no prefix index ever goes back: the highest
// reaped index is every prefix's floor. On a real dev node; the tombstones
// are counted in its SQLite file.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { eventually, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";

afterAll(killAll);

const tombstones = (node: CorralProcess) => {
  const db = new Database(join(node.dataDir, "state.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM kv_tombstones").get() as { n: number }).n;
  } finally {
    db.close();
  }
};
const indexOf = async (node: CorralProcess, path: string) => {
  const r = await fetch(`${node.url}/v1/kv/${path}`);
  await r.arrayBuffer();
  return Number(r.headers.get("x-consul-index"));
};

describe("KV tombstones", () => {
  test("older than tombstone_ttl they are reaped; prefix indexes never go back; a blocking read is not answered early", async () => {
    const node = await startCorral({ role: "dev", config: `[leader]\ntombstone_ttl = "1s"\njob_gc_interval = "300ms"\n` });
    await fetch(`${node.url}/v1/kv/other/old`, { method: "PUT", body: "x" });
    for (let i = 0; i < 5; i++) await fetch(`${node.url}/v1/kv/gone/${i}`, { method: "PUT", body: "v" });
    for (let i = 0; i < 5; i++) await fetch(`${node.url}/v1/kv/gone/${i}`, { method: "DELETE" });
    const deleted = await indexOf(node, "gone/?recurse");
    const otherBefore = await indexOf(node, "other/?recurse");
    expect(tombstones(node)).toBe(5);
    // A watcher of the emptied prefix, at its index: the reap must not wake it with nothing new.
    const t0 = Date.now();
    const watch = fetch(`${node.url}/v1/kv/gone/?recurse&index=${deleted}&wait=4s`).then(async (r) => {
      await r.arrayBuffer();
      return { status: r.status, index: Number(r.headers.get("x-consul-index")), ms: Date.now() - t0 };
    });
    await eventually(async () => tombstones(node) === 0, 15_000, 200);
    // The emptied prefix keeps its index (the floor); another prefix moves up to it, never down.
    expect(await indexOf(node, "gone/?recurse")).toBe(deleted);
    expect(await indexOf(node, "other/?recurse")).toBeGreaterThanOrEqual(otherBefore);
    expect(await indexOf(node, "gone/3")).toBe(deleted); // a missing key answers the index under it
    const w = await watch;
    expect(w.status).toBe(404);
    expect(w.index).toBe(deleted);
    expect(w.ms).toBeGreaterThanOrEqual(3500);
    // A key written again after the reap moves its prefix on as usual.
    await fetch(`${node.url}/v1/kv/gone/1`, { method: "PUT", body: "back" });
    expect(await indexOf(node, "gone/?recurse")).toBeGreaterThan(deleted);
  }, 60_000);

  test("the default TTL keeps them; `PUT /v1/system/gc` reaps them at once and says how many", async () => {
    const node = await startCorral({ role: "dev" });
    for (let i = 0; i < 3; i++) await fetch(`${node.url}/v1/kv/tmp/${i}`, { method: "PUT", body: "v" });
    await fetch(`${node.url}/v1/kv/tmp/?recurse`, { method: "DELETE" });
    const deleted = await indexOf(node, "tmp/?recurse");
    await sleep(1000);
    expect(tombstones(node)).toBe(3);
    const gc = await fetch(`${node.url}/v1/system/gc`, { method: "PUT" });
    expect(gc.status).toBe(200);
    expect(((await gc.json()) as { tombstones: number }).tombstones).toBe(3);
    expect(tombstones(node)).toBe(0);
    expect(await indexOf(node, "tmp/?recurse")).toBe(deleted);
  }, 60_000);
});
