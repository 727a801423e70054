// A template's change_mode = "script" (Nomad's change_script), through real
// processes on a root dev node with bubblewrap: on a re-render the script
// runs inside a sandbox like the task's (its user, its folder, no data dir,
// its own PID namespace), and events on the allocation say what ran and how
// it ended; a timeout kills it and the task runs on; fail_on_error kills the
// task as failed. A raw_exec task's script runs as the agent's user in the
// task's folder, unisolated, as the task does.
//
// Needs root and /usr/bin/bwrap: skipped, with the reason printed, otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, eventually, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { IS_ROOT, uidOf } from "../security/helpers-workload.ts";

const BWRAP = "/usr/bin/bwrap";
const CAN = IS_ROOT && existsSync(BWRAP);
if (!CAN) console.log(`test/templates/change-script.test.ts skipped: needs root and ${BWRAP} (Debian: bubblewrap) (uid ${process.getuid?.()})`);

const CONFIG = `[plugins]\nenabled = ["probe", "exec"]\nwatch = false\n\n[plugins.exec]\nkill_timeout = "2s"\nallow_raw = true\n`;
const JOBS = ["cs-iso", "cs-timeout", "cs-fail", "cs-raw", "checked-config"];
let dev: CorralProcess;

beforeAll(async () => {
  if (!CAN) return;
  const parent = tempDir("corral-cs-");
  chmodSync(parent, 0o755); // tasks run as nobody: the path to their folder must be traversable, as /var/lib is
  dev = await startCorral({ role: "dev", dataDir: join(parent, "data"), config: CONFIG });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 15_000);
}, 30_000);

afterAll(async () => {
  if (dev) for (const id of JOBS) await fetch(`${dev.url}/v1/job/${id}?purge`, { method: "DELETE" }).catch(() => {});
  await sleep(500);
  await killAll();
});

const put = (key: string, v: string) => getJson(`${dev.url}/v1/kv/${key}`, { method: "PUT", body: v });

async function submit(job: Record<string, unknown>) {
  const r = await getJson(dev.url + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" } });
  if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
}

function job(id: string, script: Record<string, unknown>, task: Record<string, unknown> = {}) {
  return {
    id, type: "service", groups: [{
      name: "g", restart: { attempts: 0, mode: "fail" }, reschedule: { attempts: 0, unlimited: false },
      tasks: [{
        name: "t", command: "/bin/sh", args: ["-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"], resources: { cpu: 50, memory: 64 },
        templates: [{ data: `v={{ "${id}/v" | key }}`, destination: "local/app.conf", change_mode: "script", change_script: script, splay: "0s" }],
        ...task,
      }],
    }],
  };
}

/** The job's live allocation, once its task runs. */
async function running(id: string): Promise<any> {
  return eventually(async () => {
    const list = (await getJson<any[]>(`${dev.url}/v1/job/${id}/allocations`)).body;
    const a = list.find((x) => x.clientStatus === "running" && x.taskStates?.t?.state === "running");
    return a && (await getJson(`${dev.url}/v1/allocation/${a.id}`)).body;
  }, 60_000, 250);
}

async function events(id: string, allocId: string): Promise<{ type: string; message: string }[]> {
  return (await getJson(`${dev.url}/v1/allocation/${allocId}`)).body.taskStates?.t?.events ?? [];
}

const taskDir = (allocId: string) => join(dev.dataDir, "exec", "allocs", allocId, "tasks", "t");

describe.skipIf(!CAN)("change_mode = script", () => {
  test("an isolated task's script runs in a sandbox like the task's: its user, its folder, no data dir, its own processes", async () => {
    expect((await put("cs-iso/v", "1")).status).toBe(200);
    // No "${" in args: they are interpolated as the task's are.
    const sh = [
      "id -u > local/script-uid", "pwd > local/script-pwd", "cat local/app.conf > local/seen",
      `if test -e '${dev.dataDir}/state.db'; then echo visible; else echo hidden; fi > local/datadir`,
      "ls /proc | grep -c '^[0-9]' > local/procs", "echo script-ran",
    ].join("; ");
    await submit(job("cs-iso", { command: "/bin/sh", args: ["-c", sh] }));
    const alloc = await running("cs-iso");
    expect((await events("cs-iso", alloc.id)).some((e) => e.type === "Started" && e.message.includes("(isolated)"))).toBe(true);
    const dir = taskDir(alloc.id);
    expect(existsSync(join(dir, "local", "seen"))).toBe(false); // the first rendering runs no script
    expect((await put("cs-iso/v", "2")).status).toBe(200);
    await eventually(() => existsSync(join(dir, "local", "procs")), 30_000, 100);
    const nobody = uidOf("nobody");
    expect(readFileSync(join(dir, "local", "script-uid"), "utf8").trim()).toBe(String(nobody));
    expect(statSync(join(dir, "local", "seen")).uid).toBe(nobody!);
    expect(readFileSync(join(dir, "local", "seen"), "utf8")).toBe("v=2");
    expect(readFileSync(join(dir, "local", "script-pwd"), "utf8").trim()).toBe(dir);
    expect(readFileSync(join(dir, "local", "datadir"), "utf8").trim()).toBe("hidden");
    expect(Number(readFileSync(join(dir, "local", "procs"), "utf8"))).toBeLessThan(5); // its own PID namespace, not the host's
    const ev = await eventually(async () => {
      const list = await events("cs-iso", alloc.id);
      return list.some((e) => e.message.includes("exited 0")) && list;
    }, 10_000, 100);
    expect(ev.some((e) => e.type === "Template" && e.message.includes("running change_script /bin/sh -c id -u"))).toBe(true);
    expect(ev.find((e) => e.message.includes("exited 0"))!.message).toContain("output: script-ran");
  }, 90_000);

  test("a script past its timeout is killed and said so; the task runs on", async () => {
    expect((await put("cs-timeout/v", "1")).status).toBe(200);
    await submit(job("cs-timeout", { command: "/bin/sleep", args: ["30"], timeout: "1s" }));
    const alloc = await running("cs-timeout");
    expect((await put("cs-timeout/v", "2")).status).toBe(200);
    const ended = await eventually(async () => (await events("cs-timeout", alloc.id)).find((e) => e.message.includes("timed out")), 30_000, 200);
    expect(ended.message).toContain("change_script /bin/sleep 30 timed out after 1s and was killed");
    const st = (await getJson(`${dev.url}/v1/allocation/${alloc.id}`)).body.taskStates.t;
    expect(st.state).toBe("running");
  }, 90_000);

  test("fail_on_error: a failing script kills the task as failed", async () => {
    expect((await put("cs-fail/v", "1")).status).toBe(200);
    await submit(job("cs-fail", { command: "/bin/sh", args: ["-c", "echo broken >&2; exit 3"], fail_on_error: true }));
    const alloc = await running("cs-fail");
    expect((await put("cs-fail/v", "2")).status).toBe(200);
    const st = await eventually(async () => {
      const s = (await getJson(`${dev.url}/v1/allocation/${alloc.id}`)).body.taskStates.t;
      return s.state === "dead" && s;
    }, 30_000, 200);
    expect(st.failed).toBe(true);
    const msgs = st.events.map((e: { message: string }) => e.message).join("\n");
    expect(msgs).toContain("exited 3; output: broken");
    expect(msgs).toContain("failed (fail_on_error)");
  }, 90_000);

  test("a raw_exec task's script runs as the task does: the agent's user, in the task's folder", async () => {
    expect((await put("cs-raw/v", "1")).status).toBe(200);
    await submit(job("cs-raw", { command: "/bin/sh", args: ["-c", "id -u > local/script-uid; pwd > local/script-pwd"] }, { driver: "raw_exec" }));
    const alloc = await running("cs-raw");
    expect((await put("cs-raw/v", "2")).status).toBe(200);
    const dir = taskDir(alloc.id);
    await eventually(() => existsSync(join(dir, "local", "script-pwd")), 30_000, 100);
    expect(readFileSync(join(dir, "local", "script-uid"), "utf8").trim()).toBe("0");
    expect(readFileSync(join(dir, "local", "script-pwd"), "utf8").trim()).toBe(dir);
  }, 90_000);

  test("docs/jobs.md's change_script example runs as written: a good change passes the check, a bad one fails the task", async () => {
    const doc = readFileSync(join(ROOT, "docs/jobs.md"), "utf8");
    const toml = /<!-- example:change-script -->\n```toml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(toml).toBeDefined();
    expect((await put("cfg/greeting", "hello")).status).toBe(200);
    const r = await getJson(dev.url + "/v1/jobs", { method: "POST", body: toml, headers: { "content-type": "application/toml" } });
    expect(r.status).toBe(200);
    const alloc = await eventually(async () => {
      const list = (await getJson<any[]>(`${dev.url}/v1/job/checked-config/allocations`)).body;
      return list.find((x) => x.taskStates?.app?.state === "running");
    }, 60_000, 250);
    const state = async () => (await getJson(`${dev.url}/v1/allocation/${alloc.id}`)).body.taskStates.app;
    expect((await put("cfg/greeting", "world")).status).toBe(200);
    await eventually(async () => (await state()).events.some((e: { message: string }) => e.message.includes("exited 0")), 30_000, 200);
    expect((await state()).state).toBe("running");
    expect((await put("cfg/greeting", "42")).status).toBe(200);
    const dead = await eventually(async () => {
      const s = await state();
      return s.state === "dead" && s;
    }, 30_000, 200);
    expect(dead.failed).toBe(true);
    expect(dead.events.map((e: { message: string }) => e.message).join("\n")).toContain("change_script /bin/grep -q ^greeting=[a-z] local/app.conf exited 1");
  }, 90_000);
});
