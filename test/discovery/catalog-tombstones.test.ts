// Deleted catalog rows' tombstones (nodes, services, node checks) are reaped
// (core/state/domains/catalog-tombstones.ts) once older than [leader]
// tombstone_ttl, by the leader's collector and by `PUT /v1/system/gc`, and no
// catalog or health index ever goes back: the highest reaped index is the
// floor of every index read from tombstones. On a real dev node; the
// tombstones are counted in its SQLite file.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { eventually, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";

afterAll(killAll);

const tombstones = (node: CorralProcess) => {
  const db = new Database(join(node.dataDir, "state.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM catalog_tombstones").get() as { n: number }).n;
  } finally {
    db.close();
  }
};
const indexOf = async (node: CorralProcess, path: string) => {
  const r = await fetch(`${node.url}${path}`);
  await r.arrayBuffer();
  return Number(r.headers.get("x-consul-index"));
};
const put = async (node: CorralProcess, path: string, body: unknown) => {
  const r = await fetch(`${node.url}${path}`, { method: "PUT", body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  await r.arrayBuffer();
};
const register = (node: CorralProcess, n: number, service: string) =>
  put(node, "/v1/catalog/register", { Node: `ext-${n}`, Address: `10.0.0.${n}`, Service: { ID: `${service}-${n}`, Service: service, Port: 80 }, Check: { CheckID: `node-${n}`, Name: "node", Status: "passing" } });

describe("catalog tombstones", () => {
  test("older than tombstone_ttl they are reaped; no index goes back; a blocking read is not answered early", async () => {
    const node = await startCorral({ role: "dev", config: `[leader]\ntombstone_ttl = "1s"\njob_gc_interval = "300ms"\n` });
    await register(node, 1, "kept");
    for (let n = 2; n <= 6; n++) await register(node, n, "gone");
    const keptBefore = await indexOf(node, "/v1/health/service/kept");
    // Two instances go one by one, then three whole nodes (their node, node check and service rows).
    await put(node, "/v1/catalog/deregister", { Node: "ext-2", ServiceID: "gone-2" });
    await put(node, "/v1/catalog/deregister", { Node: "ext-3", ServiceID: "gone-3" });
    for (let n = 4; n <= 6; n++) await put(node, "/v1/catalog/deregister", { Node: `ext-${n}` });
    const gone = await indexOf(node, "/v1/health/service/gone");
    const nodesIndex = await indexOf(node, "/v1/catalog/nodes");
    const servicesIndex = await indexOf(node, "/v1/catalog/services");
    const ext5 = await indexOf(node, "/v1/catalog/node/ext-5");
    expect(tombstones(node)).toBeGreaterThan(0);
    // A watcher of the emptied service, at its index: the reap must not wake it with nothing new.
    const t0 = Date.now();
    const watch = fetch(`${node.url}/v1/health/service/gone?index=${gone}&wait=4s`).then(async (r) => {
      const body = (await r.json()) as unknown[];
      return { status: r.status, index: Number(r.headers.get("x-consul-index")), body, ms: Date.now() - t0 };
    });
    await eventually(async () => tombstones(node) === 0, 15_000, 200);
    // The emptied service keeps its index (the floor); the lists keep theirs; the kept service moves up to the floor, never down.
    expect(await indexOf(node, "/v1/health/service/gone")).toBe(gone);
    expect(await indexOf(node, "/v1/catalog/service/gone")).toBe(gone);
    expect(await indexOf(node, "/v1/catalog/nodes")).toBeGreaterThanOrEqual(nodesIndex);
    expect(await indexOf(node, "/v1/catalog/services")).toBeGreaterThanOrEqual(servicesIndex);
    expect(await indexOf(node, "/v1/catalog/node/ext-5")).toBeGreaterThanOrEqual(ext5);
    expect(await indexOf(node, "/v1/health/service/kept")).toBeGreaterThanOrEqual(Math.max(keptBefore, gone));
    const w = await watch;
    expect([w.status, w.index, w.body]).toEqual([200, gone, []]);
    expect(w.ms).toBeGreaterThanOrEqual(3500);
    // An instance registered again after the reap moves its service on as usual.
    await register(node, 2, "gone");
    expect(await indexOf(node, "/v1/health/service/gone")).toBeGreaterThan(gone);
  }, 60_000);

  test("the default TTL keeps them; `PUT /v1/system/gc` reaps them at once and says how many", async () => {
    const node = await startCorral({ role: "dev" });
    for (let n = 1; n <= 3; n++) await register(node, n, "tmp");
    for (let n = 1; n <= 3; n++) await put(node, "/v1/catalog/deregister", { Node: `ext-${n}` });
    const deleted = await indexOf(node, "/v1/health/service/tmp");
    await sleep(1000);
    const before = tombstones(node);
    expect(before).toBeGreaterThanOrEqual(4); // three nodes and the service name, at least
    const gc = await fetch(`${node.url}/v1/system/gc`, { method: "PUT" });
    expect(gc.status).toBe(200);
    expect(((await gc.json()) as { catalogTombstones: number }).catalogTombstones).toBe(before);
    expect(tombstones(node)).toBe(0);
    expect(await indexOf(node, "/v1/health/service/tmp")).toBe(deleted);
  }, 60_000);
});
