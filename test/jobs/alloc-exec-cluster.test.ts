// `alloc exec` in a cluster: asked of the leader or of another agent, the
// request reaches the agent that runs the allocation, and the output streams
// back through them as the command writes it (not buffered to its end).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, sleep, type CorralProcess } from "../helpers/proc.ts";
import { reapTasks, startAgent, startLeader, stopJob, submit, waitRunning, type Agent } from "./cluster-helpers.ts";

let leader: CorralProcess;
let a: Agent;
let b: Agent;
let alloc: any;

beforeAll(async () => {
  leader = await startLeader();
  a = await startAgent(leader, "agent-exec-a");
  b = await startAgent(leader, "agent-exec-b");
  await submit(leader.url, {
    id: "xc", groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "echo $CORRAL_ALLOC_ID > me; while :; do /bin/sleep 0.2; done"], resources: { cpu: 50, memory: 64 } }] }],
  });
  [alloc] = await waitRunning(leader.url, "xc", 1, 30_000);
}, 90_000);

afterAll(async () => {
  await stopJob(leader.url, "xc").catch(() => {});
  await sleep(500);
  await killAll();
  for (const ag of [a, b]) if (ag) reapTasks(ag.dataDir);
});

function post(base: string, body: unknown): Promise<Response> {
  return fetch(`${base}/v1/client/allocation/${alloc.id}/exec`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("alloc exec across nodes", () => {
  test("through the leader and through the agent that does not run it: the task's folder, exit code", async () => {
    const other = alloc.nodeId === a.nodeId ? b : a;
    for (const base of [leader.url, other.proc.url]) {
      const res = await post(base, { Command: ["sh", "-c", "cat me; exit 9"] });
      expect(res.status).toBe(200);
      const frames = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
      const out = frames.filter((f) => f.stdout).map((f) => Buffer.from(f.stdout.data, "base64").toString()).join("");
      expect(out).toBe(`${alloc.id}\n`);
      expect(frames.at(-1)).toEqual({ exited: true, result: { exit_code: 9 } });
    }
  }, 60_000);

  test("the output streams through a forwarding node as it is written", async () => {
    const other = alloc.nodeId === a.nodeId ? b : a;
    const res = await post(other.proc.url, { Command: ["sh", "-c", "echo first; sleep 3; echo second"] });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let seen = "";
    while (!seen.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += dec.decode(value);
    }
    // The first frame came on its own, while the command still sleeps: nothing held it back.
    expect(seen).toContain(Buffer.from("first\n").toString("base64"));
    expect(seen).not.toContain("exited");
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += dec.decode(value);
    }
    expect(rest).toContain(Buffer.from("second\n").toString("base64"));
    expect(rest).toContain('"exit_code":0');
  }, 60_000);
});
