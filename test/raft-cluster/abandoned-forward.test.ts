// A client that gives up on a request a follower passed on to the leader (a
// blocking read it stopped waiting for, an agent's call that timed out) is
// not an internal error: the follower answered it with a 500 and an error log
// line, and an overloaded leader's callers give up by the thousand. Now such
// a request is counted as 499 (nginx's "client closed request") and logged at
// debug.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";
import { eventually, getJson, sleep } from "../helpers/proc.ts";

let c: TestCluster;
beforeAll(async () => {
  c = new TestCluster({ size: 3 });
  await c.start();
  await c.waitLeader();
}, 60_000);
afterAll(() => c?.stop());

test("a forwarded blocking read its client abandons is neither a 500 nor an error line", async () => {
  const leader = await c.waitLeader();
  const follower = c.nodes.find((n) => n.index !== leader)!;
  expect((await fetch(`${follower.url}/v1/kv/abandoned`, { method: "PUT", body: "v" })).status).toBe(200);
  const index = Number((await fetch(`${follower.url}/v1/kv/abandoned`)).headers.get("x-consul-index"));
  const gaveUp = new AbortController();
  const waiting = fetch(`${follower.url}/v1/kv/abandoned?index=${index}&wait=30s`, { signal: gaveUp.signal }).catch((e) => e);
  await sleep(300);
  gaveUp.abort();
  expect(await waiting).toBeInstanceOf(Error);
  const counted = async () => {
    const m = await (await fetch(`${follower.url}/metrics`)).text();
    return /corral_http_requests_total\{method="GET",route="\/v1\/kv\/\{key\}",status="499"\} 1/.test(m) ? m : undefined;
  };
  await eventually(counted, 5000);
  const out = follower.proc!.output();
  expect(out).not.toContain('"request failed"');
  expect(out).not.toMatch(/status="500"/);
  // The node still answers.
  expect((await getJson(`${follower.url}/v1/kv/abandoned`)).status).toBe(200);
}, 30_000);
