// Monitoring on 3 leader-role processes: /metrics on every node (promtool,
// one leader, Raft series agree), and an event stream that survives kill -9
// of the leader it was reading from: the client resumes on another node
// with Last-Event-ID and the indexes it saw are exactly the KV entries of
// the log, no gap and no duplicate, while a writer keeps writing; the old
// leader, restarted, replays the same sequence.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { TestCluster } from "../helpers/cluster.ts";
import { getJson, sleep } from "../helpers/proc.ts";
import { dataOf, openSse, type StreamReader } from "../helpers/sse.ts";
import { parseProm, promtoolCheck, value } from "../helpers/prom.ts";

let c: TestCluster;
beforeAll(async () => {
  c = new TestCluster({ size: 3, electionTimeoutMs: 1000 });
  await c.start();
  await c.waitLeader();
}, 60_000);
afterAll(() => c?.stop());

describe("3 leader-role processes", () => {
  test("/metrics on every node: promtool passes, exactly one leader, the Raft series agree", async () => {
    const leader = await c.waitLeader();
    await fetch(`${c.nodes[leader]!.url}/v1/kv/m`, { method: "PUT", body: "1" });
    await sleep(300); // followers apply the write
    const scraped = await Promise.all(c.nodes.map(async (n) => (await fetch(n.url + "/metrics")).text()));
    for (const text of scraped) {
      const check = promtoolCheck(text);
      expect(check.output).toBe("");
      expect(check.ok).toBe(true);
    }
    const m = scraped.map(parseProm);
    expect(m.map((x) => value(x, "corral_raft_is_leader"))).toEqual(c.nodes.map((n) => (n.index === leader ? 1 : 0)));
    expect(m.map((x) => value(x, "corral_raft_peers"))).toEqual([3, 3, 3]);
    expect(new Set(m.map((x) => value(x, "corral_raft_term"))).size).toBe(1);
    for (const x of m) {
      expect(value(x, "corral_raft_commit_index")).toBeGreaterThanOrEqual(value(x, "corral_raft_applied_index")!);
      expect(value(x, "corral_raft_applied_index")).toBeGreaterThan(0);
      expect(value(x, "corral_raft_leader_changes_total")).toBeGreaterThanOrEqual(1);
      expect(value(x, "corral_nodes", { status: "ready" })).toBe(0); // leader-role nodes do not join as agents
    }
    // Only the leader measures propose-to-applied of its own proposals.
    expect(value(m[leader]!, "corral_raft_apply_duration_seconds_count")).toBeGreaterThan(0);
  }, 30_000);

  test("SSE resume across kill -9 of the leader: no gap, no duplicate against the log", async () => {
    const leader = await c.waitLeader();
    const [writeVia, resumeOn] = c.nodes.filter((n) => n.index !== leader);
    const start = Number((await getJson(`${c.nodes[leader]!.url}/v1/nodes`)).headers.get("x-corral-index"));
    const first = await openSse(`${c.nodes[leader]!.url}/v1/events?topic=kv&index=${start}`);

    let written = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const r = await fetch(`${writeVia!.url}/v1/kv/w/${written}`, { method: "PUT", body: "x", signal: AbortSignal.timeout(3000) }).catch(() => undefined);
        if (r?.status === 200 && (await r.json()) === true) written++;
        else await sleep(20); // failover in progress: the same key again (an unknown outcome may land twice)
      }
    })();
    await first.until((m) => m.length >= 20, 15_000);
    await c.kill(leader);
    await first.ended;
    const lastId = first.messages.at(-1)!.id!;
    const second: StreamReader = await openSse(`${resumeOn!.url}/v1/events?topic=kv`, { "last-event-id": lastId });
    const target = written + 20;
    while (written < target) await sleep(20);
    stop = true;
    await writer;
    const end = await fetch(`${writeVia!.url}/v1/kv/w/end`, { method: "PUT", body: "x" });
    expect(end.status).toBe(200);
    await second.until((m) => dataOf(m).some((e) => e.payload.key === "w/end"), 15_000);
    const seen = [...first.messages, ...second.messages].map((m) => Number(m.id));
    await second.cancel();

    // The old leader, restarted, catches up and replays the very same sequence from its own log.
    await c.startNode(leader);
    const third = await openSse(`${c.nodes[leader]!.url}/v1/events?topic=kv&index=${start}`);
    await third.until((m) => dataOf(m).some((e) => e.payload.key === "w/end"), 20_000);
    expect(third.messages.map((m) => Number(m.id))).toEqual(seen);
    await third.cancel();

    // The reference: KV entries in the log of the node the client resumed on.
    await resumeOn!.proc!.kill("SIGKILL");
    resumeOn!.proc = undefined;
    const db = new Database(join(resumeOn!.dataDir, "state.db"));
    const rows = db.query("SELECT idx, data FROM log WHERE kind = 'normal' AND idx > ? ORDER BY idx").all(start) as { idx: number; data: string }[];
    db.close();
    const logged = rows.filter((r) => JSON.parse(r.data).type.startsWith("KV")).map((r) => r.idx);
    const endIndex = Number(second.messages.at(-1)!.id);
    expect(seen).toEqual(logged.filter((i) => i <= endIndex));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(41);
    // The failover is in the log too: the new leader announced itself (topic leader).
    const elected = rows.map((r) => JSON.parse(r.data)).filter((cmd) => cmd.type === "LeaderElected");
    expect([writeVia!.address, resumeOn!.address]).toContain(elected.at(-1).leader);
  }, 60_000);
});
