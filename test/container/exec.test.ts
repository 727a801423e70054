// `alloc exec` into a container task: the command runs inside the running
// container (`runc exec`): the image's root file system and environment, the
// container's own process namespace; output and exit code come back. Needs
// runc, the reference registry and a root agent, or skips saying why.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, eventually, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, submit } from "../jobs/cluster-helpers.ts";
import { openSession } from "../jobs/exec-ws-client.ts";
import { BUSYBOX, push, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";

const missing = containerTestsMissing();
if (missing) console.log(`skipping alloc exec into containers: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let dev: CorralProcess;
afterAll(async () => {
  if (dev) await fetch(`${dev.url}/v1/job/ctr-exec`, { method: "DELETE" }).catch(() => {});
  await killAll();
  if (dev) {
    endContainers(dev.dataDir);
  }
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

/** Pids of the host's processes whose command line is exactly `argv` (read from /proc: no procps needed). */
function processesRunning(...argv: string[]): string {
  const want = `${argv.join("\0")}\0`;
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8") === want;
    } catch {
      return false; // gone meanwhile
    }
  }).join(" ");
}

async function exec(allocId: string, body: unknown) {
  const res = await fetch(`${dev.url}/v1/client/allocation/${allocId}/exec`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, stdout: text, exit: undefined };
  const frames = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const stdout = frames.map((f) => (f.stdout ? Buffer.from(f.stdout.data, "base64").toString() : "")).join("");
  const stderr = frames.map((f) => (f.stderr ? Buffer.from(f.stderr.data, "base64").toString() : "")).join("");
  if (stderr) console.log(`exec stderr: ${stderr}`);
  return { status: 200, stdout, exit: frames.at(-1).exited ? frames.at(-1).result.exit_code as number : undefined };
}

describe.skipIf(!!missing)("alloc exec into a container task", () => {
  let allocId: string;
  beforeAll(async () => {
    const d = tempDir("corral-ctr-exec-");
    dirs.push(d);
    reg = await startRegistry(d);
    const layer = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "cat", "sleep", "id", "tty", "stty"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
      { type: "directory", name: "etc" },
      { type: "file", name: "etc/note", data: "inside the image\n" },
    ]);
    const built = writeLayout(join(d, "layout"), "v1", [layer], { Entrypoint: ["/bin/sh", "-c"], Env: ["PATH=/bin", "GREETING=from the image"] });
    push(built.layout, "v1", `${reg.host}/corral/exec:v1`);
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "2s"\ncontainer_insecure_registries = ["${reg.host}"]\n`,
    });
    dirs.push(dev.dataDir);
    await submit(dev.url, {
      id: "ctr-exec", type: "service",
      groups: [{ name: "g", count: 1, tasks: [{ name: "t", driver: "container", image: `${reg.host}/corral/exec:v1`, args: ["while true; do sleep 0.2; done"], resources: { cpu: 100, memory: 64 } }] }],
    });
    const a = await eventually(async () => (await allocs(dev.url, "ctr-exec")).find((x: any) => x.clientStatus === "running"), 90_000, 200);
    allocId = a.id;
  }, 150_000);

  test("runs inside the container: its root, its env, its pid namespace; the exit code comes back", async () => {
    const r = await eventually(async () => {
      const x = await exec(allocId, { Command: ["sh", "-c", "cat /etc/note; echo $GREETING; cat /proc/1/cmdline; echo; exit 4"] });
      // The task is "running" once the runtime process is: until its container runs, a clear 409.
      if (x.status === 409) return undefined;
      return x;
    }, 20_000, 300);
    expect(r.status).toBe(200);
    const [note, greeting, init] = r.stdout.split("\n");
    expect([note, greeting]).toEqual(["inside the image", "from the image"]);
    expect(init).toContain("while true; do sleep 0.2; done"); // pid 1 here is the task: the container's pid namespace
    expect(r.exit).toBe(4);
    const ok = await exec(allocId, { Command: ["cat", "/etc/note"] });
    if (ok.exit !== 0) console.log("task events:", JSON.stringify(((await (await fetch(`${dev.url}/v1/allocation/${allocId}`)).json()) as any).taskStates?.t?.events));
    expect([ok.stdout, ok.exit]).toEqual(["inside the image\n", 0]);
  }, 60_000);

  test("an interactive session (WebSocket): sh over stdin frames, the exit code; tty=true: echo, ^C reaches the command", async () => {
    const s = openSession(dev.url, allocId, { command: ["sh"] });
    s.stdin("cat /etc/note; exit 3\n");
    const end = await s.ended;
    expect([s.stdout(), end.exit]).toEqual(["inside the image\n", 3]);
    // The terminal inside the container (runc exec -t) echoes and edits lines, and its ^C interrupts the command.
    const t = openSession(dev.url, allocId, { command: ["sleep", "30"], tty: true });
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    t.stdin("typed\n");
    await t.waitFor("typed\r\n"); // the terminal's echo
    t.stdin("\x03");
    const tEnd = await t.ended;
    expect(tEnd.exit).toBe(130); // 128 + SIGINT: ^C reached the command inside the container
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  test("tty=true: a terminal inside the container: tty names /dev/pts/N, stty size follows tty_size frames, the exit code comes back; the node answers while the session idles", async () => {
    const t = openSession(dev.url, allocId, { command: ["sh"], tty: true });
    t.resize(33, 111);
    t.stdin("tty; stty size; echo T=$TERM\n");
    await t.waitFor("T=xterm-256color");
    // The first size reaches the terminal inside as a later one does: runc passes it on (from SIGWINCH)
    // while the shell starts, and a `stty size` typed meanwhile can fail once ("No child processes").
    await eventually(async () => {
      if (t.stdout().includes("33 111")) return true;
      t.stdin("stty size\n");
      await t.waitFor("33 111", 1500).catch(() => {});
      return t.stdout().includes("33 111") || undefined;
    }, 15_000, 100);
    // Before, the process inside had pipes: "not a tty", and stty failed.
    expect(t.stdout()).toMatch(/\/dev\/pts\/\d+\r?\n/);
    expect(t.stdout()).not.toContain("not a tty");
    // A new size reaches the terminal inside (runc passes it on from SIGWINCH; it may take a moment).
    t.resize(40, 150);
    await eventually(async () => {
      t.stdin("stty size\n");
      await t.waitFor("40 150", 1500).catch(() => {});
      return t.stdout().includes("40 150") || undefined;
    }, 15_000, 100);
    // An idle session holds nothing of the event loop: the node answers at once.
    await new Promise((r) => setTimeout(r, 500));
    const asked = Date.now();
    expect((await fetch(`${dev.url}/v1/status/leader`)).status).toBe(200);
    expect(Date.now() - asked).toBeLessThan(5_000);
    t.stdin("exit 7\n");
    const end = await t.ended;
    expect(end.exit).toBe(7);
  }, 60_000);

  test("tty=true: the client going away ends the command inside the container", async () => {
    const t = openSession(dev.url, allocId, { command: ["sh", "-c", "echo started; sleep 4242"], tty: true });
    await t.waitFor("started");
    const running = () => processesRunning("sleep", "4242");
    // sh prints before it starts sleep: wait for the sleep itself.
    expect(await eventually(async () => running() || undefined, 10_000, 50)).not.toBe("");
    t.ws.close();
    // The agent kills runc; the container terminal's master end goes with it, which hangs up its session.
    const gone = await eventually(async () => (running() === "" ? true : undefined), 15_000, 200).catch(() => false);
    expect(gone).toBe(true);
  }, 60_000);

  test("without a terminal too, the command inside the container ends with its session: the client going away, the one-shot time limit", async () => {
    const running = (tag: string) => processesRunning("sleep", tag);
    const s = openSession(dev.url, allocId, { command: ["sh", "-c", "echo started; sleep 4343"] });
    await s.waitFor("started");
    expect(await eventually(async () => running("4343") || undefined, 10_000, 50)).not.toBe("");
    s.ws.close();
    const r = await exec(allocId, { Command: ["sleep", "4444"], TimeoutSeconds: 1 });
    expect(r.status).toBe(200);
    // runc is killed at once; the process it ran inside the container must not outlive it (it did: an orphan there).
    const gone = await eventually(async () => (running("4343") === "" && running("4444") === "" ? true : undefined), 15_000, 200).catch(() => false);
    if (!gone) console.log("still running:", running("4343"), running("4444"));
    expect(gone).toBe(true);
  }, 60_000);

  test("tty=true sessions leave no descriptor open in the node", async () => {
    const fds = () => readdirSync(`/proc/${dev.child.pid}/fd`).length;
    const warm = openSession(dev.url, allocId, { command: ["tty"], tty: true });
    await warm.ended; // the first session opens what the node keeps (sockets, the pty device)
    const before = fds();
    for (let i = 0; i < 5; i++) {
      const s = openSession(dev.url, allocId, { command: ["tty"], tty: true });
      const end = await s.ended;
      expect([end.exit, /\/dev\/pts\/\d+/.test(s.stdout())]).toEqual([0, true]);
    }
    // Closed shortly after each session ends; a leak would leave at least one per session.
    const after = await eventually(async () => (fds() <= before + 1 ? fds() : undefined), 10_000, 200).catch(() => fds());
    expect(after).toBeLessThanOrEqual(before + 1);
    // Nor a file: the pid files runc wrote (plugins/container/exec-pid.ts) go with their sessions.
    expect(readdirSync(join(dev.dataDir, "container", "exec-pids"))).toEqual([]);
  }, 90_000);
});
