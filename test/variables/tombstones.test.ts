// Deleted variables' tombstones are reaped
// (core/state/domains/variable-tombstones.ts) once older than [leader]
// tombstone_ttl, by the leader's collector and by `PUT /v1/system/gc`, and no
// variable index ever goes back: a deleted path's and a list's index are at
// least the highest reaped delete index (the floor). On a real dev node; the
// tombstones are counted in its SQLite file.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { eventually, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";

afterAll(killAll);

const tombstones = (node: CorralProcess) => {
  const db = new Database(join(node.dataDir, "state.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM variable_tombstones").get() as { n: number }).n;
  } finally {
    db.close();
  }
};
const indexOf = async (node: CorralProcess, path: string) => {
  const r = await fetch(`${node.url}${path}`);
  await r.arrayBuffer();
  return Number(r.headers.get("x-corral-index"));
};
const send = async (node: CorralProcess, method: "PUT" | "DELETE", path: string, body?: unknown) => {
  const r = await fetch(`${node.url}/v1/var/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(r.status).toBe(200);
  await r.arrayBuffer();
};
const put = (node: CorralProcess, path: string) => send(node, "PUT", path, { Items: { k: path } });
const del = (node: CorralProcess, path: string) => send(node, "DELETE", path);

describe("variable tombstones", () => {
  test("older than tombstone_ttl they are reaped; no index goes back; a blocking read is not answered early", async () => {
    const node = await startCorral({ role: "dev", config: `[leader]\ntombstone_ttl = "1s"\njob_gc_interval = "300ms"\n` });
    await put(node, "keep/a");
    for (let n = 1; n <= 3; n++) await put(node, `tmp/${n}`);
    const kept = await indexOf(node, "/v1/vars?prefix=keep/");
    for (let n = 1; n <= 3; n++) await del(node, `tmp/${n}`);
    const first = await indexOf(node, "/v1/var/tmp/1");
    const last = await indexOf(node, "/v1/var/tmp/3");
    expect(last).toBeGreaterThan(first);
    expect(await indexOf(node, "/v1/vars?prefix=tmp/")).toBe(last);
    expect(tombstones(node)).toBe(3);
    // A watcher of the last deleted path, at its index: the reap must not wake it with nothing new.
    const t0 = Date.now();
    const watch = fetch(`${node.url}/v1/var/tmp/3?index=${last}&wait=4s`).then(async (r) => {
      await r.arrayBuffer();
      return { status: r.status, index: Number(r.headers.get("x-corral-index")), ms: Date.now() - t0 };
    });
    await eventually(async () => tombstones(node) === 0, 15_000, 200);
    // The last deleted path and its list keep their index (the floor); the others move up to it, never down.
    expect(await indexOf(node, "/v1/var/tmp/3")).toBe(last);
    expect(await indexOf(node, "/v1/vars?prefix=tmp/")).toBe(last);
    expect(await indexOf(node, "/v1/var/tmp/1")).toBe(last);
    expect(await indexOf(node, "/v1/vars")).toBeGreaterThanOrEqual(last);
    expect(await indexOf(node, "/v1/vars?prefix=keep/")).toBe(Math.max(kept, last));
    expect(await indexOf(node, "/v1/var/keep/a")).toBe(kept); // an existing path's index is its own ModifyIndex
    const w = await watch;
    expect([w.status, w.index]).toEqual([404, last]);
    expect(w.ms).toBeGreaterThanOrEqual(3500);
    // A path written again after the reap moves on as usual.
    await put(node, "tmp/3");
    expect(await indexOf(node, "/v1/var/tmp/3")).toBeGreaterThan(last);
    expect(await indexOf(node, "/v1/vars?prefix=tmp/")).toBeGreaterThan(last);
  }, 60_000);

  test("the default TTL keeps them; `PUT /v1/system/gc` reaps them at once and says how many", async () => {
    const node = await startCorral({ role: "dev" });
    for (let n = 1; n <= 4; n++) await put(node, `tmp/${n}`);
    for (let n = 1; n <= 4; n++) await del(node, `tmp/${n}`);
    const deleted = await indexOf(node, "/v1/var/tmp/4");
    await sleep(1000);
    expect(tombstones(node)).toBe(4);
    const gc = await fetch(`${node.url}/v1/system/gc`, { method: "PUT" });
    expect(gc.status).toBe(200);
    expect(((await gc.json()) as { variableTombstones: number }).variableTombstones).toBe(4);
    expect(tombstones(node)).toBe(0);
    expect(await indexOf(node, "/v1/var/tmp/4")).toBe(deleted);
    expect(await indexOf(node, "/v1/var/tmp/1")).toBe(deleted);
    expect(await indexOf(node, "/v1/vars?prefix=tmp/")).toBe(deleted);
  }, 60_000);
});
