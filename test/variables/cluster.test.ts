// Variables on three Raft leaders: every leader holds the keyring (wrapped,
// through the log) and unwraps it with the cluster secret, so a variable
// written through one follower is decrypted by another follower itself
// (?stale: answered from its own state), after a rotation, and by a new
// leader once the old one is killed. No node's data dir holds the plaintext.
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { eventually, getJson, killAll } from "../helpers/proc.ts";
import { TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  await killAll();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const put = (url: string, path: string, items: Record<string, string>) =>
  getJson(`${url}/v1/var/${path}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ Items: items }) });

test("every leader decrypts: a write through one follower reads on another, after rotation and failover", async () => {
  cluster = new TestCluster({ size: 3, direct: true });
  await cluster.start();
  const leader = await cluster.waitLeader(30_000);
  const [f1, f2] = cluster.nodes.filter((n) => n.index !== leader);
  const secret = "cluster-canary-2b8e61f0";

  const w = await put(f1!.url, "jobs/web/db", { password: secret });
  expect(w.status).toBe(200);
  const index = w.body.ModifyIndex as number;
  // f2 answers from its own state (?stale), once it has applied the write: it unwrapped the key itself.
  const read = await eventually(async () => {
    const r = await getJson(`${f2!.url}/v1/var/jobs/web/db?stale`);
    return r.status === 200 && r.body.ModifyIndex === index ? r : undefined;
  }, 20_000);
  expect(read.body.Items).toEqual({ password: secret });

  // Rotate through f2; a new write under the new key reads on f1.
  expect((await getJson(`${f2!.url}/v1/operator/keyring/rotate`, { method: "POST" })).status).toBe(200);
  expect((await put(f2!.url, "jobs/web/new", { k: `${secret}-new` })).status).toBe(200);
  await eventually(async () => (await getJson(`${f1!.url}/v1/var/jobs/web/new?stale`)).body?.Items?.k === `${secret}-new`, 20_000);
  expect((await getJson(`${f1!.url}/v1/var/jobs/web/db?stale`)).body.Items).toEqual({ password: secret });

  // Failover: the new leader decrypts both.
  await cluster.kill(leader);
  const next = await cluster.waitLeader(30_000);
  expect(next).not.toBe(leader);
  const url = cluster.nodes[next]!.url;
  await eventually(async () => (await getJson(`${url}/v1/var/jobs/web/db`)).status === 200, 20_000);
  expect((await getJson(`${url}/v1/var/jobs/web/db`)).body.Items).toEqual({ password: secret });
  expect((await getJson(`${url}/v1/var/jobs/web/new`)).body.Items).toEqual({ k: `${secret}-new` });

  for (const n of cluster.nodes) {
    for (const f of filesUnder(n.dataDir)) expect({ file: f, found: readFileSync(f).includes(secret) }).toEqual({ file: f, found: false });
  }
}, 180_000);
