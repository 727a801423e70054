// A leader-role follower passes an agent's join or heartbeat (leader:
// "leader" routes, core/http/raft-leader.ts) on to the Raft leader. When that
// leader is dead, the agent gets the answer every other forward gives: 503
// and certainly not applied when the connection was refused (it moves on to
// its next leader address), never a 500 "internal error". Real processes.
import { afterAll, describe, expect, test } from "bun:test";
import { CLUSTER_SECRET, TestCluster } from "../helpers/cluster.ts";
import { SIGNATURE_HEADER, signRequest } from "../../core/http/rpc-signature.ts";

let c: TestCluster | undefined;
afterAll(async () => c?.stop());

describe("a follower passing a heartbeat on to a dead leader", () => {
  test("503, not applied, as JSON (not 500)", async () => {
    // Direct: peers connect straight to each other, so a dead leader refuses
    // connections; a long election timeout keeps the follower believing in it.
    c = new TestCluster({ size: 3, electionTimeoutMs: 5000, heartbeatMs: 100, direct: true });
    await c.start();
    await c.waitLeader(30_000);
    const l = await c.leader();
    const follower = c.nodes[(l + 1) % 3]!;
    await c.kill(l);
    const path = "/v1/cluster/heartbeat";
    const body = JSON.stringify({ id: crypto.randomUUID() });
    const res = await fetch(follower.url + path, {
      method: "POST",
      headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest({ secret: CLUSTER_SECRET, node: "pass-on-test" }, "POST", path, body, { to: new URL(follower.url).host }) },
      body,
    });
    const answer = { status: res.status, outcome: res.headers.get("X-Corral-Outcome"), code: ((await res.json()) as { code?: string }).code };
    // 503 NO_LEADER instead when the follower already stopped believing in the dead leader.
    const expected: (typeof answer)[] = [{ status: 503, outcome: "not-applied", code: "NOT_LEADER" }, { status: 503, outcome: null, code: "NO_LEADER" }];
    expect(expected).toContainEqual(answer);
  }, 90_000);
});
