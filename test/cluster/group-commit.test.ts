// Group commit, as a user sees it on /metrics: concurrent writes share a
// Ready, so one log write and one fsync (corral_raft_fsyncs_total) on the
// leader and on each follower, while a lone write costs one of its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";
import { getJson } from "../helpers/proc.ts";

const c = new TestCluster({ size: 3, direct: true, sync: "full" });
let leader = 0;

async function fsyncs(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^corral_raft_fsyncs_total (\S+)$/m.exec(text);
  if (!m) throw new Error("corral_raft_fsyncs_total missing from /metrics");
  return Number(m[1]);
}
const all = () => Promise.all(c.nodes.map((n) => fsyncs(n.url)));

beforeAll(async () => {
  await c.start();
  leader = await c.waitLeader(20_000);
}, 60_000);
afterAll(() => c.stop());

test("a lone write costs the leader an fsync; 64 concurrent writes share a few", async () => {
  // Settle: the election's entries are written and heartbeats write nothing.
  expect((await getJson(`${c.nodes[leader]!.url}/v1/kv/gc/warm`, { method: "PUT", body: "x" })).status).toBe(200);
  const lone0 = await fsyncs(c.nodes[leader]!.url);
  expect((await getJson(`${c.nodes[leader]!.url}/v1/kv/gc/one`, { method: "PUT", body: "x" })).status).toBe(200);
  expect((await fsyncs(c.nodes[leader]!.url)) - lone0).toBeGreaterThanOrEqual(1);

  const before = await all();
  const results = await Promise.all(
    Array.from({ length: 64 }, (_, i) => getJson(`${c.nodes[leader]!.url}/v1/kv/gc/${i}`, { method: "PUT", body: `v${i}` })),
  );
  expect(results.every((r) => r.status === 200)).toBe(true);
  // Followers may still be writing the last batch: wait until each has applied the writes.
  for (const n of c.nodes) {
    for (let t = 0; t < 100 && (await getJson(`${n.url}/v1/kv/gc/63?stale&raw`)).body !== "v63"; t++) await Bun.sleep(50);
  }
  const spent = (await all()).map((n, i) => n - before[i]!);
  console.log(`fsyncs for 64 concurrent writes, per node (leader ${leader}): ${spent.join(", ")}`);
  for (const s of spent) {
    expect(s).toBeGreaterThanOrEqual(1);
    expect(s).toBeLessThan(32);
  }
}, 60_000);

test("the leader's writes are synced off its event loop (raft.leader_fsync = parallel): /metrics says what made each durable first", async () => {
  const url = c.nodes[leader]!.url;
  for (let i = 0; i < 5; i++) expect((await getJson(`${url}/v1/kv/gc/durable-${i}`, { method: "PUT", body: "x" })).status).toBe(200);
  const text = await (await fetch(`${url}/metrics`)).text();
  const by = (k: string) => Number(new RegExp(`^corral_raft_leader_writes_durable_total\\{by="${k}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  console.log(`leader writes made durable first by its own sync: ${by("sync")}, by its followers' acks: ${by("followers")}`);
  expect(by("sync") + by("followers")).toBeGreaterThanOrEqual(5);
}, 30_000);
