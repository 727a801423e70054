// `alloc exec` into a container task: the command runs inside the running
// container (`runc exec`): the image's root file system and environment, the
// container's own process namespace; output and exit code come back. Needs
// runc, the reference registry and a root agent, or skips saying why.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
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
      ...["sh", "echo", "cat", "sleep", "id"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
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

  test("an interactive session (WebSocket): sh over stdin frames, the exit code; tty=true: the session's terminal (echo, ^C) wraps runc exec", async () => {
    const s = openSession(dev.url, allocId, { command: ["sh"] });
    s.stdin("cat /etc/note; exit 3\n");
    const end = await s.ended;
    expect([s.stdout(), end.exit]).toEqual(["inside the image\n", 3]);
    // runc exec runs without -t, on a pty the agent holds (runc gives the process in the container pipes it copies
    // to that pty: docs/containers.md): the terminal echoes and edits lines, ^C reaches the command through runc.
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
});
