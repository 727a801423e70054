// A container task's template change_script (docs/jobs.md "Change scripts",
// docs/containers.md "The user"): it runs inside the task's running
// container, as the container's user (Nomad's docker driver runs it with
// its exec), never on the node as the agent. A container task has no host
// user or sandbox of its own, so before this it ran as a plain process of
// the agent: root on the node, for anyone who may submit a job.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanup, eventually, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { BUSYBOX, push, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";

const missing = containerTestsMissing();
if (missing) console.log(`skipping container change_script tests: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let dev: CorralProcess;
const markDir = tempDir("corral-ctr-cs-mark-");
dirs.push(markDir);
const HOST_MARK = join(markDir, "ran-on-the-node");

afterAll(async () => {
  if (dev) await fetch(`${dev.url}/v1/job/cs-ctr?purge`, { method: "DELETE" }).catch(() => {});
  await killAll();
  if (dev) endContainers(dev.dataDir);
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

describe.skipIf(!!missing)("a container task's change_script", () => {
  let image: string;
  let allocId: string;
  beforeAll(async () => {
    const d = tempDir("corral-ctr-cs-");
    dirs.push(d);
    reg = await startRegistry(d);
    const layer = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "cat", "id", "sleep", "test", "touch"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
      { type: "directory", name: "etc" },
      { type: "file", name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n" },
      { type: "file", name: "etc/group", data: "root:x:0:\napp:x:1000:\n" },
      { type: "file", name: "etc/inside-the-image", data: "yes" },
    ]);
    push(writeLayout(join(d, "layout"), "v1", [layer], { Entrypoint: ["/bin/sh", "-c"], Env: ["PATH=/bin"] }).layout, "v1", `${reg.host}/cs/app:v1`);
    image = `${reg.host}/cs/app:v1`;
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "2s"\ncontainer_insecure_registries = ["${reg.host}"]\n`,
    });
    dirs.push(dev.dataDir);
    await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 20_000);
  }, 120_000);

  test("runs inside the running container as its user; nothing runs on the node", async () => {
    expect((await getJson(`${dev.url}/v1/kv/cs/v`, { method: "PUT", body: "1" })).status).toBe(200);
    const script = [
      // Where it ran: the image's file is there only inside the container; the marker path only on the node.
      `if test -e /etc/inside-the-image; then echo in-container; else echo on-node; fi`,
      `touch ${HOST_MARK} 2>/dev/null`,
      "echo uid=$(id -u)",
      "cat /local/app.conf",
    ].join("; ");
    const r = await getJson<any>(`${dev.url}/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "cs-ctr", type: "service",
        groups: [{
          name: "g", restart: { attempts: 0, mode: "fail" }, reschedule: { attempts: 0, unlimited: false },
          tasks: [{
            name: "t", driver: "container", image, user: "1000", resources: { cpu: 50, memory: 64 },
            args: ["trap 'exit 0' TERM; while :; do sleep 0.2; done"],
            templates: [
              { data: `v={{ "cs/v" | key }}`, destination: "app.conf", change_mode: "script", change_script: { command: "/bin/sh", args: ["-c", script] }, splay: "0s" },
              // Past its timeout: killed inside the container too, not only runc.
              { data: `w={{ "cs/v" | key }}`, destination: "slow.conf", change_mode: "script", change_script: { command: "/bin/sleep", args: ["317"], timeout: "1s" }, splay: "0s" },
            ],
          }],
        }],
      }),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const alloc = await eventually(async () => {
      const list = (await getJson<any[]>(`${dev.url}/v1/job/cs-ctr/allocations`)).body;
      return list.find((x) => x.clientStatus === "running" && x.taskStates?.t?.state === "running");
    }, 90_000, 250);
    // The container is up (runc has started its process) before the re-render.
    const out = join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "app.conf");
    expect(readFileSync(out, "utf8")).toBe("v=1");
    await eventually(async () => {
      const r = Bun.spawnSync(["runc", "--root", join(dev.dataDir, "container", "state"), "state", `corral-${alloc.id}-t`]);
      return r.exitCode === 0 && JSON.parse(r.stdout.toString()).status === "running";
    }, 30_000, 200);
    expect((await getJson(`${dev.url}/v1/kv/cs/v`, { method: "PUT", body: "2" })).status).toBe(200);
    const ended = await eventually(async () => {
      const a = (await getJson<any>(`${dev.url}/v1/allocation/${alloc.id}`)).body;
      const evs: { type: string; message: string }[] = a.taskStates?.t?.events ?? [];
      return evs.find((e) => e.type === "Template" && /change_script .* (exited|timed out|could not start|not run)/.test(e.message));
    }, 60_000, 250);
    expect(ended.message).toContain("exited 0");
    expect(ended.message).toContain("in-container");
    expect(ended.message).toContain("uid=1000");
    expect(ended.message).toContain("v=2");
    expect(existsSync(HOST_MARK)).toBe(false);
    const slow = await eventually(async () => {
      const a = (await getJson<any>(`${dev.url}/v1/allocation/${alloc.id}`)).body;
      const evs: { type: string; message: string }[] = a.taskStates?.t?.events ?? [];
      return evs.find((e) => e.type === "Template" && /change_script \/bin\/sleep 317 (exited|timed out|could not start|not run)/.test(e.message));
    }, 60_000, 250);
    expect(slow.message).toContain("timed out after 1s and was killed");
    const sleeping = () => Bun.spawnSync(["pgrep", "-f", "^/bin/sleep 317$"]).stdout.toString().trim();
    await eventually(async () => sleeping() === "", 10_000, 200);
    expect(sleeping()).toBe("");
    allocId = alloc.id;
  }, 180_000);

  test("after the agent is killed and taken up again, re-renders and the token are still written as the container's user", async () => {
    const conf = join(dev.dataDir, "exec", "allocs", allocId, "tasks", "t", "app.conf");
    expect(statSync(conf).uid).toBe(1000);
    const since = Date.now();
    await dev.kill("SIGKILL");
    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config: readFileSync(dev.configFile!, "utf8") });
    await eventually(async () => {
      const a = (await getJson<any>(`${dev.url}/v1/allocation/${allocId}`)).body;
      return a.taskStates?.t?.events?.some((e: any) => e.type === "Reattached" && e.at > since);
    }, 60_000, 250);
    expect((await getJson(`${dev.url}/v1/kv/cs/v`, { method: "PUT", body: "3" })).status).toBe(200);
    await eventually(async () => readFileSync(conf, "utf8") === "v=3", 30_000, 200);
    expect(statSync(conf).uid).toBe(1000);
    expect(statSync(conf).gid).toBe(1000);
    // The agent that took the task up wrote its token file anew: the container's user's, as before.
    const token = join(dev.dataDir, "exec", "allocs", allocId, "tasks", "t", "secrets", "corral_token");
    expect(`${statSync(token).uid}:${statSync(token).gid}`).toBe("1000:1000");
    expect(statSync(join(dev.dataDir, "exec", "allocs", allocId, "tasks", "t")).uid).toBe(1000);
  }, 180_000);
});
