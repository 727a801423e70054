// `alloc exec` (plugins/exec/exec-routes.ts): a command run inside a running
// exec task, as the task's user in its folder (its sandbox where the node
// isolates), output and exit code back; its own ACL rule (alloc_exec), not
// job write; no cross-site page may run one; the audit log records it; the
// CLI exits with the command's exit code.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BUN, ENTRY, eventually, killAll, sleep } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let allocId: string;

type Frame = { stdout?: { data: string }; stderr?: { data: string }; exited?: boolean; result?: { exit_code: number } };

/** One exec session: its status, and (on 200) the decoded output and exit code. */
/** token null: none sent. */
async function exec(body: unknown, token: string | null = n.management, headers: Record<string, string> = {}, alloc = allocId) {
  const res = await fetch(`${n.url}/v1/client/allocation/${alloc}/exec`, {
    method: "POST", headers: { "content-type": "application/json", ...(token ? { "X-Consul-Token": token } : {}), ...headers }, body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, error: JSON.parse(text) as { error: string; code: string }, stdout: "", stderr: "", exit: undefined };
  const frames = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Frame);
  const out = (k: "stdout" | "stderr") => frames.map((f) => (f[k] ? Buffer.from(f[k]!.data, "base64").toString() : "")).join("");
  const last = frames.at(-1)!;
  return { status: 200, error: undefined, stdout: out("stdout"), stderr: out("stderr"), exit: last.exited ? last.result!.exit_code : undefined };
}

beforeAll(async () => {
  n = await startAclNode(`[plugins.exec]\nallow_raw = true\n`);
  const job = {
    id: "execjob",
    groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "id -u > uid; echo from-task > note; trap 'exit 0' TERM; while :; do /bin/sleep 0.2; done"], resources: { cpu: 50, memory: 64 } }] }],
  };
  const r = await call(n.url, "POST", "/v1/jobs", n.management, job);
  if (r.status !== 200) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  const a = await eventually(async () => {
    const list = (await call(n.url, "GET", "/v1/job/execjob/allocations", n.management)).body as any[];
    return list.find((y) => y.clientStatus === "running");
  }, 30_000);
  allocId = a.id;
  await eventually(async () => (await exec({ Command: ["cat", "uid"] })).exit === 0, 15_000);
}, 60_000);

afterAll(async () => {
  await call(n.url, "DELETE", "/v1/job/execjob", n.management).catch(() => {});
  await sleep(300);
  await killAll();
});

describe("alloc exec into an exec task", () => {
  test("runs in the task's folder as the task's user; output and exit code 0 come back", async () => {
    const r = await exec({ Command: ["sh", "-c", "echo hello; cat note; id -u; cat uid"] });
    expect(r.status).toBe(200);
    const [hello, note, uidNow, uidTask] = r.stdout.trim().split("\n");
    expect([hello, note]).toEqual(["hello", "from-task"]);
    expect(uidNow).toBe(uidTask!); // the same user as the task (not the root agent's)
    expect(uidNow).not.toBe("0");
    expect(r.exit).toBe(0);
  }, 30_000);

  test("a non-zero exit code and stderr propagate; stdin reaches the command", async () => {
    const r = await exec({ Command: ["sh", "-c", "echo oops >&2; exit 3"] });
    expect([r.status, r.stderr, r.exit]).toEqual([200, "oops\n", 3]);
    const cat = await exec({ Command: ["cat"], Stdin: "typed in\n" });
    expect([cat.stdout, cat.exit]).toEqual(["typed in\n", 0]);
    const missing = await exec({ Command: ["no-such-command-here"] });
    expect(missing.exit).not.toBe(0);
  }, 30_000);

  test("bad input: a clear 400; an unknown task 400; an unknown allocation 404", async () => {
    for (const body of [{}, { Command: [] }, { Command: [""] }, { Command: "ls" }, { Command: ["ls"], Extra: 1 }]) {
      const r = await exec(body);
      expect([JSON.stringify(body), r.status, r.error?.code]).toEqual([JSON.stringify(body), 400, "INVALID_INPUT"]);
    }
    const t = await exec({ Command: ["ls"], Task: "nope" });
    expect([t.status, t.error?.code]).toEqual([400, "INVALID_INPUT"]);
    const res = await fetch(`${n.url}/v1/client/allocation/00000000-dead/exec`, { method: "POST", headers: { "content-type": "application/json", "X-Consul-Token": n.management }, body: JSON.stringify({ Command: ["ls"] }) });
    expect(res.status).toBe(404);
  }, 30_000);

  test("needs alloc_exec on the job: no token, job write, another job's alloc_exec get 403; alloc_exec write runs", async () => {
    const writer = await tokenWith(n, "exec-jobwrite", `job "execjob" { policy = "write" }\nalloc_exec "other" { policy = "write" }`);
    for (const token of [null, writer.secret]) {
      const r = await exec({ Command: ["sh", "-c", "touch /tmp/should-not-exist-corral-exec"] }, token);
      expect([r.status, r.error?.code]).toEqual([403, "PERMISSION_DENIED"]);
    }
    const execer = await tokenWith(n, "exec-exec", `alloc_exec "execjob" { policy = "write" }`);
    const ok = await exec({ Command: ["echo", "allowed"] }, execer.secret);
    expect([ok.status, ok.stdout, ok.exit]).toEqual([200, "allowed\n", 0]);
    const reader = await tokenWith(n, "exec-read", `alloc_exec_prefix "" { policy = "read" }`);
    expect((await exec({ Command: ["echo"] }, reader.secret)).status).toBe(403);
    // The audit log has the refused and the allowed session.
    const records = await eventually(async () => {
      const r = await call(n.url, "GET", `/v1/audit?path=/v1/client/allocation/${allocId}/exec`, n.management);
      return r.body.some((x: any) => x.accessor === execer.accessor && x.status === 200) && r.body.some((x: any) => x.accessor === writer.accessor && x.status === 403) ? r.body : undefined;
    }, 10_000);
    expect(records.length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  test("a web page on another site cannot exec, whatever token the browser holds", async () => {
    const pages: Record<string, string>[] = [{ origin: "http://evil.example" }, { "sec-fetch-site": "cross-site" }];
    for (const headers of pages) {
      const r = await exec({ Command: ["echo", "pwned"] }, n.management, headers);
      expect([r.status, r.error?.code]).toEqual([403, "CROSS_SITE_REQUEST"]);
    }
    // The node's own origin (its dashboard) may.
    const own = await exec({ Command: ["echo", "ok"] }, n.management, { origin: n.url });
    expect([own.status, own.stdout]).toEqual([200, "ok\n"]);
  }, 30_000);

  test("a client that goes away ends the command (and what it started); TimeoutSeconds ends it too", async () => {
    const ac = new AbortController();
    const res = await fetch(`${n.url}/v1/client/allocation/${allocId}/exec`, {
      method: "POST", signal: ac.signal, headers: { "content-type": "application/json", "X-Consul-Token": n.management },
      body: JSON.stringify({ Command: ["sh", "-c", "echo started; sleep 4; echo late > after-abort"] }),
    });
    const reader = res.body!.getReader();
    await reader.read(); // "started": the command runs
    ac.abort();
    await sleep(6_000);
    const look = await exec({ Command: ["sh", "-c", "test -e after-abort && echo there || echo gone"] });
    expect(look.stdout).toBe("gone\n");
    const timed = await exec({ Command: ["sleep", "30"], TimeoutSeconds: 1 });
    expect(timed.exit).toBe(137); // 128 + SIGKILL
  }, 60_000);

  test("a raw task (the agent's privileges) also needs operator:write", async () => {
    const job = { id: "rawjob", groups: [{ name: "g", tasks: [{ name: "r", driver: "raw_exec", command: "/bin/sh", args: ["-c", "trap 'exit 0' TERM; while :; do /bin/sleep 0.2; done"], resources: { cpu: 50, memory: 64 } }] }] };
    const sub = await call(n.url, "POST", "/v1/jobs", n.management, job);
    expect(sub.status).toBe(200);
    const a = await eventually(async () => ((await call(n.url, "GET", "/v1/job/rawjob/allocations", n.management)).body as any[]).find((y) => y.clientStatus === "running"), 30_000);
    const only = await tokenWith(n, "raw-exec-only", `alloc_exec "rawjob" { policy = "write" }`);
    const refused = await exec({ Command: ["id", "-u"] }, only.secret, {}, a.id);
    expect([refused.status, refused.error?.code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(refused.error?.error).toContain("operator:write");
    const op = await tokenWith(n, "raw-exec-op", `alloc_exec "rawjob" { policy = "write" }\noperator = "write"`);
    const ok = await exec({ Command: ["id", "-u"] }, op.secret, {}, a.id);
    expect([ok.status, ok.stdout, ok.exit]).toEqual([200, "0\n", 0]); // the agent's own user: why it needs more
    await call(n.url, "DELETE", "/v1/job/rawjob", n.management);
  }, 60_000);

  test("corral alloc exec prints the output and exits with the command's code", () => {
    const env = { ...process.env, CORRAL_ADDR: n.url, CORRAL_TOKEN: n.management };
    const r = spawnSync(BUN, [ENTRY, "alloc", "exec", "--task", "t", allocId.slice(0, 8), "--", "sh", "-c", "cat; echo to-err >&2; exit 7"], { env, input: "piped\n", encoding: "utf8", timeout: 60_000 });
    expect([r.stdout, r.stderr, r.status]).toEqual(["piped\n", "to-err\n", 7]);
    const none = spawnSync(BUN, [ENTRY, "alloc", "exec", allocId], { env, encoding: "utf8", timeout: 60_000 });
    expect(none.status).toBe(2);
  }, 60_000);
});
