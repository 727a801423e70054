// Operating an allocation (restart, signal, stop) is a write on its job, as
// Nomad's alloc-lifecycle capability: no token and a token that may only read
// the job (or write another one) are refused, and the task is untouched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, killAll, sleep } from "../helpers/proc.ts";
import { alive, taskPid } from "../jobs/cluster-helpers.ts";
import { call, startAclNode, tokenWith, type AclNode } from "./helpers.ts";

let n: AclNode;
let allocId: string;
let pid: number;

beforeAll(async () => {
  n = await startAclNode();
  const job = {
    id: "acljob",
    groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "trap 'exit 0' TERM; while :; do /bin/sleep 0.1; done"], resources: { cpu: 50, memory: 64 } }] }],
  };
  const r = await call(n.url, "POST", "/v1/jobs", n.management, job);
  if (r.status !== 200) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  const a = await eventually(async () => {
    const list = (await call(n.url, "GET", "/v1/job/acljob/allocations", n.management)).body as any[];
    const x = list.find((y) => y.clientStatus === "running");
    return x && taskPid((await call(n.url, "GET", `/v1/allocation/${x.id}`, n.management)).body, "t") && x;
  }, 30_000);
  allocId = a.id;
  pid = taskPid((await call(n.url, "GET", `/v1/allocation/${allocId}`, n.management)).body, "t")!;
}, 60_000);

afterAll(async () => {
  await call(n.url, "DELETE", "/v1/job/acljob", n.management).catch(() => {});
  await sleep(500);
  await killAll();
});

const ops = () => [
  ["PUT", `/v1/client/allocation/${allocId}/restart`, {}],
  ["POST", `/v1/client/allocation/${allocId}/restart`, { TaskName: "t" }],
  ["PUT", `/v1/client/allocation/${allocId}/signal`, { Signal: "SIGTERM" }],
  ["PUT", `/v1/allocation/${allocId}/stop`, undefined],
  ["POST", `/v1/allocation/${allocId.slice(0, 8)}/stop`, undefined],
] as const;

describe("alloc restart, signal and stop need job write", () => {
  test("no token, a read-only token and a token for another job are refused; the task runs on untouched", async () => {
    const reader = await tokenWith(n, "acljob-read", `job "acljob" { policy = "read" }\njob "other" { policy = "write" }`);
    for (const token of [undefined, reader.secret]) {
      for (const [method, path, body] of ops()) {
        const r = await call(n.url, method, path, token, body);
        expect([path, r.status]).toEqual([path, 403]);
        expect(r.body.code).toBeTruthy();
      }
    }
    await sleep(500);
    const a = (await call(n.url, "GET", `/v1/allocation/${allocId}`, n.management)).body;
    expect(a.desiredStatus).toBe("run");
    expect(a.taskStates.t.restarts).toBe(0);
    expect(taskPid(a, "t")).toBe(pid);
    expect(alive(pid)).toBe(true);
  }, 60_000);

  test("a token with write on the job restarts it", async () => {
    const writer = await tokenWith(n, "acljob-write", `job "acljob" { policy = "write" }`);
    const r = await call(n.url, "PUT", `/v1/client/allocation/${allocId}/restart`, writer.secret, {});
    expect(r.status).toBe(200);
    expect(r.body.tasks).toEqual(["t"]);
    await eventually(async () => {
      const a = (await call(n.url, "GET", `/v1/allocation/${allocId}`, n.management)).body;
      return a.taskStates.t.restarts === 1 && taskPid(a, "t") !== pid;
    }, 15_000);
  }, 60_000);
});
