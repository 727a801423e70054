// A health blocking query waits on its own service's name (issue 18 point 3,
// core/state/service-names-changed.ts): a write to another service no longer
// wakes it (before, every catalog write woke every health watcher, and each
// re-ran its query to find nothing new), while every write that can move its
// answer still does: its own instances, its service checks, a node check of a
// node it runs on, a deregistration. A real dev node; what is asserted is what
// the clients see, plus the node's own count of answers computed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev" });
}, 60_000);
afterAll(killAll);

const put = async (path: string, body: unknown) => {
  const r = await fetch(p.url + path, { method: "PUT", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  expect({ status: r.status, body: await r.text() }).toEqual({ status: 200, body: "true" });
};

async function computed(): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  return Number(/^corral_discovery_read_answers\{source="computed"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

async function read(path: string) {
  const res = await fetch(p.url + path);
  return { status: res.status, index: Number(res.headers.get("x-consul-index")), body: await res.text() };
}

/** Holds `n` blocking queries on `path` (a health query by default) at its current index; resolves with their answers. */
async function hold(name: string, n: number, path = `/v1/health/service/${name}`) {
  const first = await read(path);
  const held = Array.from({ length: n }, () => read(`${path}?index=${first.index}&wait=30s`));
  await Bun.sleep(700); // each query is evaluated once at the old index, then waits
  let returned = 0;
  for (const h of held) void h.then(() => returned++);
  return { index: first.index, held, returned: () => returned };
}

describe("health blocking queries wait on their own service", () => {
  test("writes to another service wake none of them; their own service's write wakes them all, with the change", async () => {
    await put("/v1/catalog/register", { Node: "n1", Address: "10.0.0.1", Service: { ID: "alpha-1", Service: "alpha", Port: 80 } });
    await put("/v1/catalog/register", { Node: "n2", Address: "10.0.0.2", Service: { ID: "beta-1", Service: "beta", Port: 80 } });
    const h = await hold("alpha", 10);
    // The service's instances and its checks wait the same way.
    const list = await hold("alpha", 3, "/v1/catalog/service/alpha");
    const checks = await hold("alpha", 3, "/v1/health/checks/alpha");
    const before = await computed();
    for (let i = 0; i < 5; i++) {
      await put("/v1/catalog/register", { Node: "n2", Address: "10.0.0.2", Service: { ID: "beta-1", Service: "beta", Port: 81 + i } });
      // A service check of beta too: the checks table moves, beta's name with it.
      await put("/v1/catalog/register", { Node: "n2", Address: "10.0.0.2", Check: { CheckID: `beta-c`, Name: "c", ServiceID: "beta-1", Status: i % 2 ? "passing" : "critical" } });
    }
    await Bun.sleep(300);
    // Before: each of the 10 writes woke alpha's watchers, which re-evaluated (one shared evaluation per write and query).
    expect((await computed()) - before).toBe(0);
    expect(h.returned() + list.returned() + checks.returned()).toBe(0);
    await put("/v1/catalog/register", { Node: "n3", Address: "10.0.0.3", Service: { ID: "alpha-2", Service: "alpha", Port: 80 }, Check: { CheckID: "alpha-2-c", Name: "c", ServiceID: "alpha-2", Status: "passing" } });
    for (const w of [...(await Promise.all(list.held)), ...(await Promise.all(checks.held))]) {
      expect(w.status).toBe(200);
      expect(w.index).toBeGreaterThan(list.index);
      expect(w.body).toContain("alpha-2");
    }
    const woke = await Promise.all(h.held);
    for (const w of woke) {
      expect(w.status).toBe(200);
      expect(w.index).toBeGreaterThan(h.index);
      expect(JSON.parse(w.body).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["alpha-1", "alpha-2"]);
    }
  }, 60_000);

  test("a node check on a node the service runs on wakes it (its health moved), under another name's case too", async () => {
    const h = await hold("ALPHA", 3);
    await put("/v1/catalog/register", { Node: "n1", Address: "10.0.0.1", Check: { CheckID: "n1-disk", Name: "disk", Status: "critical" } });
    const woke = await Promise.all(h.held);
    for (const w of woke) {
      expect(w.index).toBeGreaterThan(h.index);
      const n1 = JSON.parse(w.body).find((e: { Node: { Node: string } }) => e.Node.Node === "n1");
      expect(n1.Checks.map((c: { CheckID: string }) => c.CheckID)).toContain("n1-disk");
    }
  }, 60_000);

  test("its own service check and its deregistration wake it", async () => {
    let h = await hold("alpha", 3);
    await put("/v1/catalog/register", { Node: "n3", Address: "10.0.0.3", Check: { CheckID: "alpha-2-c", Name: "c", ServiceID: "alpha-2", Status: "critical" } });
    for (const w of await Promise.all(h.held)) expect(w.index).toBeGreaterThan(h.index);
    h = await hold("alpha", 3);
    await put("/v1/catalog/deregister", { Node: "n3", ServiceID: "alpha-2" });
    for (const w of await Promise.all(h.held)) {
      expect(w.index).toBeGreaterThan(h.index);
      expect(JSON.parse(w.body).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["alpha-1"]);
    }
  }, 60_000);
});
