// Waiting acquires on a real node (core/api/lock-waits.ts):
// `PUT /v1/kv/<key>?acquire=<session>&wait=<d>` waits for a held lock instead
// of answering false, first come first served, and a release hands the key
// to the first waiter in the same log entry (nobody ever sees it free).
// Through the write fast path (the plain query) and through the route (any
// other flag), with the answers Consul's for everything else: a bad wait,
// cas with wait, a waiter whose wait ends or whose client leaves, a session
// destroyed while it waits, lock-delay, and the held-request cap.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { CLUSTER_SECRET, TestCluster } from "../helpers/cluster.ts";

let dev: CorralProcess;
beforeAll(async () => {
  dev = await startCorral({ role: "dev", config: `[http]\nmax_blocking_per_address = 6\n` });
});
afterAll(killAll);

let keyN = 0;
const session = async (lockDelay = "0s") =>
  ((await (await fetch(`${dev.url}/v1/session/create`, { method: "PUT", body: JSON.stringify({ LockDelay: lockDelay }) })).json()) as { ID: string }).ID;
const put = (key: string, query: string, body = "", signal?: AbortSignal) => fetch(`${dev.url}/v1/kv/${key}?${query}`, { method: "PUT", body, signal });
const lockOp = async (key: string, query: string, body = "") => {
  const r = await put(key, query, body);
  return r.status === 200 ? ((await r.json()) as boolean) : r.status;
};
const entry = async (key: string) =>
  ((await (await fetch(`${dev.url}/v1/kv/${key}`)).json()) as { Session?: string; LockIndex: number; ModifyIndex: number; Value: string | null; Flags: number }[])[0]!;
/** Whether a promise is still pending after `ms`. */
const pending = async (p: Promise<unknown>, ms = 300) => (await Promise.race([p.then(() => "settled"), sleep(ms).then(() => "pending")])) === "pending";

describe("waiting acquires", () => {
  for (const [via, extra] of [["the fast path", ""], ["the route", "&flags=7"]] as const) {
    test(`through ${via}: a waiter gets the key from the release itself, in arrival order`, async () => {
      const key = `waits/order-${keyN++}`;
      const [a, b, c, d] = [await session(), await session(), await session(), await session()];
      expect(await lockOp(key, `acquire=${a}`, "a")).toBe(true);
      const before = await entry(key);
      const wb = lockOp(key, `acquire=${b}&wait=20s${extra}`, "b");
      await sleep(100);
      const wc = lockOp(key, `acquire=${c}&wait=20s${extra}`, "c");
      await sleep(100);
      const wd = lockOp(key, `acquire=${d}&wait=20s${extra}`, "d");
      expect(await pending(wb)).toBe(true);
      expect(await pending(wc, 10)).toBe(true);
      // A blocking read from before the release: the next thing it sees is b holding the key, never a free one.
      const watch = fetch(`${dev.url}/v1/kv/${key}?index=${before.ModifyIndex}&wait=20s`).then((r) => r.json() as Promise<{ Session?: string }[]>);
      expect(await lockOp(key, `release=${a}`)).toBe(true);
      expect(await wb).toBe(true);
      expect((await watch)[0]!.Session).toBe(b);
      const held = await entry(key);
      expect(held.Session).toBe(b);
      expect(held.LockIndex).toBe(before.LockIndex + 1);
      expect(Buffer.from(held.Value ?? "", "base64").toString()).toBe("b");
      expect(held.Flags).toBe(extra ? 7 : 0);
      expect(await pending(wc, 10)).toBe(true);
      expect(await lockOp(key, `release=${b}`)).toBe(true);
      expect(await wc).toBe(true);
      expect(await pending(wd, 10)).toBe(true);
      expect(await lockOp(key, `release=${c}`)).toBe(true);
      expect(await wd).toBe(true);
      expect((await entry(key)).Session).toBe(d);
      // The last one out leaves it free.
      expect(await lockOp(key, `release=${d}`)).toBe(true);
      expect((await entry(key)).Session).toBeUndefined();
    }, 30_000);
  }

  test("a free key is taken at once; a wait that ends answers false and leaves the queue", async () => {
    const key = `waits/timeout-${keyN++}`;
    const [a, b] = [await session(), await session()];
    expect(await lockOp(key, `acquire=${a}&wait=5s`)).toBe(true);
    const t0 = Date.now();
    expect(await lockOp(key, `acquire=${b}&wait=600ms`)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    // b no longer waits: the release leaves the key free.
    expect(await lockOp(key, `release=${a}`)).toBe(true);
    expect((await entry(key)).Session).toBeUndefined();
  }, 30_000);

  test("a waiter whose client left is skipped: the next one gets the key", async () => {
    const key = `waits/gone-${keyN++}`;
    const [a, b, c] = [await session(), await session(), await session()];
    expect(await lockOp(key, `acquire=${a}`)).toBe(true);
    const gone = new AbortController();
    const wb = put(key, `acquire=${b}&wait=20s`, "", gone.signal).catch(() => "aborted");
    await sleep(100);
    const wc = lockOp(key, `acquire=${c}&wait=20s`);
    await sleep(100);
    gone.abort();
    expect(await wb).toBe("aborted");
    await sleep(100);
    expect(await lockOp(key, `release=${a}`)).toBe(true);
    expect(await wc).toBe(true);
    expect((await entry(key)).Session).toBe(c);
  }, 30_000);

  test("a session destroyed while it waits gets Consul's Invalid session; lock-delay is waited out", async () => {
    const key = `waits/dead-${keyN++}`;
    const [a, b] = [await session("1s"), await session()];
    expect(await lockOp(key, `acquire=${a}`)).toBe(true);
    const wb = put(key, `acquire=${b}&wait=20s`);
    await sleep(100);
    const t0 = Date.now();
    await fetch(`${dev.url}/v1/session/destroy/${b}`, { method: "PUT" });
    const r = await wb;
    expect(r.status).toBe(500);
    expect(await r.text()).toContain("Invalid session");
    expect(Date.now() - t0).toBeLessThan(2500);
    expect((await entry(key)).Session).toBe(a);

    // a's destroy releases the key under its 1 s lock-delay: a waiter gets it once the delay has passed, not before.
    const c = await session();
    const wc = lockOp(key, `acquire=${c}&wait=10s`);
    await sleep(100);
    const t1 = Date.now();
    await fetch(`${dev.url}/v1/session/destroy/${a}`, { method: "PUT" });
    expect(await lockOp(key, `acquire=${await session()}`)).toBe(false);
    expect(await wc).toBe(true);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t1).toBeLessThan(3000);
    expect((await entry(key)).Session).toBe(c);
  }, 30_000);

  test("bad input: an invalid wait and cas with wait are 400s, and nothing is taken", async () => {
    const key = `waits/bad-${keyN++}`;
    const a = await session();
    for (const q of [`acquire=${a}&wait=soon`, `acquire=${a}&wait=5s&cas=0`, `acquire=${a}&cas=0&wait=5s`]) {
      const r = await put(key, q);
      expect(r.status).toBe(400);
    }
    expect((await fetch(`${dev.url}/v1/kv/${key}`)).status).toBe(404);
    // wait on a plain write or a release is ignored, as Consul ignores it.
    expect(await lockOp(key, "wait=5s", "v")).toBe(true);
    expect(await lockOp(key, `release=${a}&wait=5s`)).toBe(false);
  }, 30_000);

  test("waiting acquires count against the held-request cap per address (429 past it)", async () => {
    const key = `waits/cap-${keyN++}`;
    const a = await session();
    expect(await lockOp(key, `acquire=${a}`)).toBe(true);
    const ctl = new AbortController();
    const waiting = [];
    for (let i = 0; i < 6; i++) waiting.push(put(key, `acquire=${await session()}&wait=20s`, "", ctl.signal).catch(() => undefined));
    await sleep(300);
    for (const q of [`acquire=${await session()}&wait=20s`, `acquire=${await session()}&wait=20s&flags=1`]) {
      const r = await put(key, q);
      expect(r.status).toBe(429);
    }
    ctl.abort();
    await Promise.all(waiting);
  }, 30_000);
});

describe("waiting acquires with ACLs", () => {
  let n: AclNode;
  beforeAll(async () => {
    n = await startAclNode();
  });

  test("a token that may not write the key is refused at once (403), not queued", async () => {
    const self = (await call(n.url, "GET", "/v1/agent/self", n.management)).body.Config.NodeName as string;
    const writer = (await tokenWith(n, "waits-w", `session "${self}" { policy = "write" }\nkey_prefix "app/" { policy = "write" }`)).secret;
    const reader = (await tokenWith(n, "waits-r", `session "${self}" { policy = "write" }\nkey_prefix "app/" { policy = "read" }`)).secret;
    const sw = (await call(n.url, "PUT", "/v1/session/create", writer, {})).body.ID as string;
    const sr = (await call(n.url, "PUT", "/v1/session/create", reader, {})).body.ID as string;
    expect((await call(n.url, "PUT", `/v1/kv/app/lock?acquire=${sw}`, writer, "x")).body).toBe(true);
    const t0 = Date.now();
    expect((await call(n.url, "PUT", `/v1/kv/app/lock?acquire=${sr}&wait=10s`, reader, "x")).status).toBe(403);
    expect((await call(n.url, "PUT", `/v1/kv/app/lock?acquire=${sr}&wait=10s`, undefined, "x")).status).toBe(403);
    expect(Date.now() - t0).toBeLessThan(3000);
    // The writer's own waiting acquire works with a token (the route, ACL decided first).
    const sw2 = (await call(n.url, "PUT", "/v1/session/create", writer, {})).body.ID as string;
    const waiting = call(n.url, "PUT", `/v1/kv/app/lock?acquire=${sw2}&wait=10s`, writer, "y");
    await sleep(200);
    expect((await call(n.url, "PUT", `/v1/kv/app/lock?release=${sw}`, writer, "")).body).toBe(true);
    expect((await waiting).body).toBe(true);
  }, 60_000);
});

describe("waiting acquires on a cluster", () => {
  let c: TestCluster;
  afterAll(() => c?.stop());

  test("sent to a follower, it is forwarded and waits on the leader (fast path and route alike)", async () => {
    c = new TestCluster({ size: 3 });
    await c.start();
    const leader = await c.waitLeader();
    const follower = c.nodes[(leader + 1) % 3]!.url;
    const at = (url: string, path: string, body = "") => fetch(`${url}${path}`, { method: "PUT", body });
    const mk = async () => ((await (await at(c.nodes[leader]!.url, "/v1/session/create", JSON.stringify({ LockDelay: "0s" }))).json()) as { ID: string }).ID;
    const [a, b, d] = [await mk(), await mk(), await mk()];
    expect(await (await at(follower, `/v1/kv/cw/lock?acquire=${a}`)).json()).toBe(true);
    const wb = at(follower, `/v1/kv/cw/lock?acquire=${b}&wait=20s`, "b").then((r) => r.json());
    await sleep(200);
    const wd = at(follower, `/v1/kv/cw/lock?acquire=${d}&wait=20s&flags=2`, "d").then((r) => r.json());
    expect(await pending(wb)).toBe(true);
    expect(await (await at(follower, `/v1/kv/cw/lock?release=${a}`)).json()).toBe(true);
    expect(await wb).toBe(true);
    expect(await pending(wd, 10)).toBe(true);
    expect(await (await at(c.nodes[leader]!.url, `/v1/kv/cw/lock?release=${b}`)).json()).toBe(true);
    expect(await wd).toBe(true);

    // Through an agent whose leader-role node is a follower: it still waits (here by watching the key, outside the leader's queue).
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "waits-agent"\n\n[cluster]\nsecret = "${CLUSTER_SECRET}"\n\n[agent]\nleaders = ["${c.nodes[(leader + 1) % 3]!.address}"]\n`,
    });
    const e = await mk();
    const we = at(agent.url, `/v1/kv/cw/lock?acquire=${e}&wait=20s`, "e").then((r) => r.json());
    expect(await pending(we, 1000)).toBe(true);
    expect(await (await at(c.nodes[leader]!.url, `/v1/kv/cw/lock?release=${d}`)).json()).toBe(true);
    expect(await we).toBe(true);
    expect(await (await at(agent.url, `/v1/kv/cw/lock?acquire=${a}&wait=500ms`)).json()).toBe(false);
  }, 120_000);
});
