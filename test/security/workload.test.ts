// What a running task can reach (docs/security.md "Workloads"). A real dev
// node, running as root, runs jobs whose task tries to own the cluster: read
// the cluster secret, the state database and the node's config file, list
// the data dir and other allocations, and print its environment. It must get
// none of it, run as nobody, and still write its own folder. A task asking
// for root is refused unless the node allows raw mode AND the submitter holds
// operator:write.
//
// Needs root (only root can switch users): skipped, with the reason printed,
// otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startCorral, killAll, getJson, eventually, devSecretOf, freePort, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call, tokenWith } from "../acl/helpers.ts";
import { IS_ROOT, finishedAlloc, headers, shellJob, taskLogs, uidOf } from "./helpers-workload.ts";
import { checkIdentity, idRanges, parsePasswd, taskIdentity } from "../../core/host/users.ts";
import { driverRequirements, execAttributes } from "../../core/scheduler/raw.ts";
import { compileAsk } from "../../core/scheduler/ask.ts";
import { closeDataDirToTasks } from "../../core/host/data-dir-modes.ts";

if (!IS_ROOT) console.log("test/security/workload.test.ts skipped: the agent must run as root to switch task users (uid is " + process.getuid?.() + ")");

const PLUGINS = `[plugins]\nenabled = ["probe", "exec"]\nwatch = false\n`;
const AGENT_ENV = { CORRAL_TOKEN: "agent-env-token-6b1f0e0e", SOME_AGENT_SECRET: "agent-env-secret-93c1d2" };
const CONFIG_MARKER = "config-marker-51d7a9";

let dev: CorralProcess;

beforeAll(async () => {
  if (!IS_ROOT) return;
  dev = await startCorral({ role: "dev", dataDir: dataDirIn(), config: `# ${CONFIG_MARKER}\n${PLUGINS}`, env: AGENT_ENV });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 15_000);
}, 30_000);

afterAll(() => killAll());

/**
 * A data dir whose parent anyone may list, as /var/lib is (a temp folder is
 * 0700 and would hide everything from a task, the protection under test included).
 */
function dataDirIn(): string {
  const parent = tempDir("corral-sec-workload-");
  chmodSync(parent, 0o755);
  return join(parent, "data");
}

async function submit(url: string, job: Record<string, unknown>, token?: string) {
  return getJson(url + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: headers(token) });
}

describe.skipIf(!IS_ROOT)("a task cannot own the cluster", () => {
  test("it runs as nobody and reads no secret, state, config, listing or agent environment; its own folder is writable", async () => {
    const secret = devSecretOf(dev.dataDir);
    // The config file as an operator keeps it: 0600, in a folder anyone may traverse.
    chmodSync(dirname(dev.configFile!), 0o755);
    chmodSync(dev.configFile!, 0o600);
    const script = [
      `echo "uid=$(id -u) groups=$(id -G)"`,
      `echo "secret:"; cat "$D/cluster-secret"`,
      `echo "state:"; head -c 64 "$D/state.db"; head -c 64 "$D/state.db-wal"`,
      `echo "config:"; cat "$CFG"`,
      `echo "processes:"; cat "$D/exec/processes.json"`,
      `echo "datadir:"; ls -a "$D"`,
      `echo "allocs:"; ls -a "$D/exec/allocs"`,
      `echo "logs:"; ls -a "$CORRAL_ALLOC_DIR/logs"`,
      `echo "env:"; env`,
      `echo written > "$CORRAL_TASK_DIR/own.txt" && echo "own-write=ok"`,
      `echo "home=$HOME"`,
      `echo end`,
    ].join("\n");
    const reg = await submit(dev.url, shellJob("grab", script, { env: { D: dev.dataDir, CFG: dev.configFile! } }));
    expect(reg.status).toBe(200);
    const alloc = await finishedAlloc(dev.url, "grab");
    const out = await taskLogs(dev.url, alloc.id);
    const err = await taskLogs(dev.url, alloc.id, undefined, "stderr");
    expect(out).toContain("end");
    expect(out).toContain(`uid=${uidOf("nobody")} `);
    expect(out).not.toMatch(/groups=.*\b0\b/);
    expect(out).not.toContain(secret);
    expect(out).not.toContain("SQLite format 3");
    expect(out).not.toContain(CONFIG_MARKER);
    expect(out).not.toContain(`"tasks":`); // exec/processes.json names every allocation
    expect(out).not.toContain(AGENT_ENV.CORRAL_TOKEN);
    expect(out).not.toContain(AGENT_ENV.SOME_AGENT_SECRET);
    expect(out).not.toContain("CORRAL_CLUSTER_SECRET");
    // Listings: nothing between the headings but the refusal.
    for (const [from, to] of [["datadir:", "allocs:"], ["allocs:", "logs:"], ["logs:", "env:"]] as const) {
      expect(out.slice(out.indexOf(from) + from.length, out.indexOf(to)).trim(), from).toBe("");
    }
    expect(err).toContain("Permission denied");
    expect(out).toContain("own-write=ok");
    const taskDir = join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t");
    expect(out).toContain(`home=${taskDir}`);
    expect(readFileSync(join(taskDir, "own.txt"), "utf8")).toBe("written\n");
    expect(statSync(taskDir).uid).toBe(uidOf("nobody")!);
    expect(statSync(taskDir).mode & 0o777).toBe(0o700);
    expect(statSync(dev.dataDir).mode & 0o777).toBe(0o711);
    expect(statSync(join(dev.dataDir, "cluster-secret")).mode & 0o077).toBe(0);
    expect(statSync(join(dev.dataDir, "state.db")).mode & 0o077).toBe(0);
  }, 60_000);

  test("user = \"root\" and driver raw_exec are not placed while raw mode is off, with the reason; other uid-0 users fail on the node", async () => {
    for (const [id, task] of [["as-root", { user: "root" }], ["as-raw", { driver: "raw_exec" }]] as const) {
      const reg = await submit(dev.url, shellJob(id, "id -u", task));
      expect(reg.status, id).toBe(200);
      const ev = await eventually(async () => {
        const e = (await getJson(`${dev.url}/v1/evaluation/${reg.body.evalId}`)).body;
        return e.status !== "pending" && e;
      }, 15_000);
      expect(ev.status, id).toBe("blocked");
      expect(Object.keys(ev.failedGroups[0].metrics.reasons), id).toEqual(["driver: raw mode is off on the node ([plugins.exec] allow_raw = false)"]);
      expect((await getJson<any[]>(`${dev.url}/v1/job/${id}/allocations`)).body, id).toEqual([]);
    }
    const unknown = await submit(dev.url, shellJob("as-ghost", "id -u", { user: "no-such-user-x" }));
    expect(unknown.status).toBe(200);
    expect((await finishedAlloc(dev.url, "as-ghost")).taskStates.t.events.at(-1).message).toContain(`user "no-such-user-x" does not exist`);
    const bad = await submit(dev.url, shellJob("bad-user", "id -u", { user: "0" }));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe("groups[0].tasks[0].user");
  }, 60_000);

  test("with raw mode on, a root task needs operator:write from its submitter; then it runs as root", async () => {
    const n = await startCorral({ role: "dev", dataDir: dataDirIn(), config: `${ACL_CONFIG}${PLUGINS.replace('"exec"', '"exec", "authz"')}\n[plugins.exec]\nallow_raw = true\n` });
    const boot = await getJson(n.url + "/v1/acl/bootstrap", { method: "PUT" });
    const node = { proc: n, url: n.url, management: boot.body.SecretID as string };
    await eventually(async () => (await call(n.url, "GET", "/v1/nodes", node.management)).body.length === 1, 15_000);
    const writer = await tokenWith(node, "job-writer", `job_prefix "" { policy = "write" }`);
    const operator = await tokenWith(node, "raw-writer", `job_prefix "" { policy = "write" }\noperator = "write"`);

    // A privileged container takes the host as a raw task does: the same permission, whatever the nodes allow.
    const privileged = { driver: "container", image: "127.0.0.1:5999/app:1", privileged: true, command: undefined };
    for (const task of [{ user: "root" }, { driver: "raw_exec" }, privileged]) {
      const refused = await submit(n.url, shellJob("rooted", "id -u", task), writer.secret);
      expect(refused.status, JSON.stringify(task)).toBe(403);
      expect(refused.body.code).toBe("PERMISSION_DENIED");
      expect(refused.body.error).toContain("operator:write");
    }
    // The same token may still submit an ordinary job.
    expect((await submit(n.url, shellJob("plain", "id -u"), writer.secret)).status).toBe(200);
    expect((await call(n.url, "GET", "/v1/job/rooted", node.management)).status).toBe(404);

    const ok = await submit(n.url, shellJob("rooted", "id -u", { user: "root" }), operator.secret);
    expect(ok.status).toBe(200);
    const alloc = await finishedAlloc(n.url, "rooted", node.management);
    expect(alloc.clientStatus).toBe("complete");
    expect((await taskLogs(n.url, alloc.id, node.management)).trim()).toBe("0");
    const plain = await finishedAlloc(n.url, "plain", node.management);
    expect((await taskLogs(n.url, plain.id, node.management)).trim()).toBe(String(uidOf("nobody")));
  }, 90_000);
});

describe("who a task runs as (pure rules, any uid)", () => {
  const passwd = parsePasswd([
    "root:x:0:0:root:/root:/bin/bash",
    "toor:x:0:0:another root:/root:/bin/sh",
    "corral:x:998:998::/var/lib/corral:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "wheelie:x:1001:0::/home/w:/bin/sh",
    "broken line",
  ].join("\n"));
  const root = { uid: 0, gid: 0, name: "root" };
  const corral = { uid: 998, gid: 998, name: "corral" };
  const off = { defaultUser: "nobody", allowRaw: false };
  const on = { defaultUser: "nobody", allowRaw: true };
  const who = (task: { driver?: "exec" | "raw_exec"; user?: string }, agent = root, policy = off) =>
    taskIdentity({ driver: task.driver ?? "exec", user: task.user }, agent, policy, passwd);

  test("a root agent switches exec tasks to the job's user or the default; never to uid 0 or gid 0 in disguise", () => {
    expect(who({})).toEqual({ ok: true, raw: false, name: "nobody", switchTo: { uid: 65534, gid: 65534 } });
    expect(who({ user: "corral" })).toEqual({ ok: true, raw: false, name: "corral", switchTo: { uid: 998, gid: 998 } });
    expect(who({ user: "toor" }, root, on)).toMatchObject({ ok: false, error: expect.stringContaining("uid 0") });
    expect(who({ user: "wheelie" })).toMatchObject({ ok: false, error: expect.stringContaining("group 0") });
    expect(who({ user: "ghost" })).toMatchObject({ ok: false, error: expect.stringContaining("does not exist") });
    const denying = { ...off, deniedUids: idRanges("1-999")!, deniedGids: idRanges("65534")! };
    expect(who({ user: "corral" }, root, denying)).toMatchObject({ ok: false, error: expect.stringContaining("denied_host_uids") });
    expect(who({}, root, denying)).toMatchObject({ ok: false, error: expect.stringContaining("denied_host_gids") });
    expect(idRanges("0-999, 2000")).toEqual([[0, 999], [2000, 2000]]);
    expect(idRanges("")).toEqual([]);
    expect(idRanges("5-1")).toBeUndefined();
    expect(idRanges("x")).toBeUndefined();
  });

  test("raw mode (user root, driver raw_exec) only with allow_raw; a non-root agent runs only raw_exec", () => {
    expect(who({ user: "root" })).toMatchObject({ ok: false, error: expect.stringContaining("allow_raw = false") });
    expect(who({ driver: "raw_exec" })).toMatchObject({ ok: false, error: expect.stringContaining("allow_raw = false") });
    expect(who({ user: "root" }, root, on)).toEqual({ ok: true, raw: true, name: "root" });
    expect(who({ driver: "raw_exec" }, root, on)).toEqual({ ok: true, raw: true, name: "root" });
    expect(who({}, corral, on)).toMatchObject({ ok: false, error: expect.stringContaining("needs an agent running as root") });
    expect(who({ driver: "raw_exec" }, corral, off)).toMatchObject({ ok: false });
    expect(who({ driver: "raw_exec" }, corral, on)).toEqual({ ok: true, raw: true, name: "corral" });
    expect(who({ user: "root" }, corral, on)).toMatchObject({ ok: false });
  });

  test("exec checks: the configured user on a root agent, never uid 0; the agent itself otherwise", () => {
    expect(checkIdentity("nobody", root, passwd)).toEqual({ ok: true, raw: false, name: "nobody", switchTo: { uid: 65534, gid: 65534 } });
    expect(checkIdentity("toor", root, passwd).ok).toBe(false);
    expect(checkIdentity("root", root, passwd).ok).toBe(false);
    expect(checkIdentity("nobody", corral, passwd)).toEqual({ ok: true, raw: true, name: "corral" });
  });
});

describe("placement knows the exec driver (pure)", () => {
  test("raw tasks need a node reporting driver.raw_exec, exec tasks one reporting driver.exec; nodes that report nothing are not filtered", () => {
    expect(execAttributes(true, false)).toEqual({ "driver.exec": "true", "driver.raw_exec": "false" });
    const group = (tasks: { driver: "exec" | "raw_exec"; user?: string }[]) => ({
      name: "g", count: 1, constraints: [], spread: [], restart: {} as any, reschedule: {} as any, update: {} as any,
      tasks: tasks.map((t, i) => ({ name: `t${i}`, command: "c", args: [], env: {}, resources: { cpuMhz: 1, memoryMb: 1 }, ports: {}, ...t })),
    });
    const job = (g: ReturnType<typeof group>) => ({ id: "j", namespace: "default", type: "batch" as const, priority: 50, constraints: [], groups: [g] });
    const node = (attributes: Record<string, string>) => ({ attributes, meta: {} }) as any;
    const passes = (g: ReturnType<typeof group>, attrs: Record<string, string>) => compileAsk(job(g) as any, g as any).constraints.every((c) => c.test(node(attrs)));
    const rootNoRaw = execAttributes(true, false);
    const rootRaw = execAttributes(true, true);
    const userRaw = execAttributes(false, true);
    expect(passes(group([{ driver: "exec" }]), rootNoRaw)).toBe(true);
    expect(passes(group([{ driver: "exec", user: "root" }]), rootNoRaw)).toBe(false);
    expect(passes(group([{ driver: "raw_exec" }]), rootNoRaw)).toBe(false);
    expect(passes(group([{ driver: "exec", user: "root" }]), rootRaw)).toBe(true);
    expect(passes(group([{ driver: "exec" }]), userRaw)).toBe(false);
    expect(passes(group([{ driver: "raw_exec" }]), userRaw)).toBe(true);
    expect(passes(group([{ driver: "raw_exec" }, { driver: "exec" }]), userRaw)).toBe(false);
    expect(passes(group([{ driver: "raw_exec" }]), {})).toBe(true);
    expect(driverRequirements([{ driver: "exec" }, { driver: "raw_exec" }]).map((r) => r.attribute).sort()).toEqual(["driver.exec", "driver.raw_exec"]);
  });
});

describe.skipIf(!IS_ROOT)("locking the data dir", () => {
  test("0711, the agent's own entries private, exec/ and other users' entries untouched; a sticky folder left alone", () => {
    const dir = join(tempDir("corral-sec-lock-"), "data");
    mkdirSync(join(dir, "exec"), { recursive: true, mode: 0o755 });
    mkdirSync(join(dir, "discovery"), { mode: 0o755 });
    writeFileSync(join(dir, "state.db"), "x", { mode: 0o644 });
    writeFileSync(join(dir, "theirs"), "x", { mode: 0o644 });
    chownSync(join(dir, "theirs"), uidOf("nobody")!, uidOf("nobody")!);
    chmodSync(dir, 0o755);
    expect(closeDataDirToTasks(dir)).toBeUndefined();
    const mode = (p: string) => statSync(join(dir, p)).mode & 0o7777;
    expect(mode("")).toBe(0o711);
    expect(mode("state.db")).toBe(0o600);
    expect(mode("discovery")).toBe(0o700);
    expect(mode("exec")).toBe(0o755);
    expect(mode("theirs")).toBe(0o644);
    const shared = tempDir("corral-sec-sticky-");
    chmodSync(shared, 0o1777);
    expect(closeDataDirToTasks(shared)).toContain("sticky bit");
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
  });
});

describe("raw permission through an agent", () => {
  test("the agent checks operator:write before it forwards a raw job; the leader trusts only what the agent passed", async () => {
    const leaderPort = await freePort();
    const secret = "sec-workload-agent-secret-0123";
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n\n${ACL_CONFIG}` });
    const boot = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
    const node = { proc: leader, url: leader.url, management: boot.body.SecretID as string };
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-raw"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}`,
    });
    const writer = await tokenWith(node, "job-writer-a", `job_prefix "" { policy = "write" }`);
    const operator = await tokenWith(node, "raw-writer-a", `job_prefix "" { policy = "write" }\noperator = "write"`);
    const refused = await submit(agent.url, shellJob("raw-via-agent", "id -u", { driver: "raw_exec" }), writer.secret);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toContain("operator:write");
    expect((await call(leader.url, "GET", "/v1/job/raw-via-agent", node.management)).status).toBe(404);
    expect((await submit(agent.url, shellJob("plain-via-agent", "id -u"), writer.secret)).status).toBe(200);
    expect((await submit(agent.url, shellJob("raw-via-agent", "id -u", { driver: "raw_exec" }), operator.secret)).status).toBe(200);
    expect((await call(leader.url, "GET", "/v1/job/raw-via-agent", node.management)).status).toBe(200);
    await agent.kill();
    await leader.kill();
  }, 60_000);
});
