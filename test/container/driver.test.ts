// The container driver end to end: a dev node (root, runc) pulls images the
// test built from busybox-static and pushed to the reference registry on
// loopback, runs them as jobs, and reports what a user sees: logs, exit
// codes, pull events, the image's stop signal, OOM, cache reuse, reattach
// after the agent is killed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, eventually, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, submit } from "../jobs/cluster-helpers.ts";
import { BUSYBOX, push, containerJob, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";

const missing = containerTestsMissing();
if (missing) console.log(`skipping container driver tests: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let dev: CorralProcess;
afterAll(async () => {
  await killAll();
  // Containers outlive the agent by design: end the ones these tests left (runc state under the data dir).
  if (dev) {
    endContainers(dev.dataDir);
  }
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

const logOf = (allocId: string, task: string, stream = "stdout") => {
  const f = join(dev.dataDir, "exec", "allocs", allocId, "logs", `${task}.${stream}.log`);
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};


async function settled(jobId: string, pred: (a: any) => boolean, timeoutMs = 60_000): Promise<any> {
  return eventually(async () => (await allocs(dev.url, jobId)).find(pred), timeoutMs, 200);
}

describe.skipIf(!!missing)("driver = \"container\"", () => {
  let image: string;
  beforeAll(async () => {
    const d = tempDir("corral-ctr-");
    dirs.push(d);
    reg = await startRegistry(d);
    const base = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "cat", "ls", "sleep", "id", "httpd", "env", "unshare"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
      { type: "directory", name: "etc" },
      { type: "file", name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n" },
      { type: "file", name: "etc/group", data: "root:x:0:\napp:x:1000:\n" },
      { type: "file", name: "etc/old", data: "removed by the next layer" },
    ]);
    const top = await tarOf([
      { type: "file", name: "etc/.wh.old", data: "" },
      { type: "file", name: "etc/note", data: "from layer two" },
      { type: "directory", name: "www" },
      { type: "file", name: "www/index.html", data: "served from a container\n" },
    ]);
    const built = writeLayout(join(d, "layout"), "v1", [base, top], {
      Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo default cmd"], Env: ["PATH=/bin", "GREETING=from the image"], WorkingDir: "/etc",
      StopSignal: "SIGUSR1",
    });
    push(built.layout, "v1", `${reg.host}/corral/app:v1`);
    const asApp = writeLayout(join(d, "layout-user"), "user", [base, top], { Entrypoint: ["/bin/sh", "-c"], Cmd: ["id -u; id -g; cat /etc/note"], Env: ["PATH=/bin"], User: "app" });
    push(asApp.layout, "user", `${reg.host}/corral/app:user`);
    image = `${reg.host}/corral/app:v1`;
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "3s"\ncontainer_insecure_registries = ["${reg.host}"]\n`,
    });
    dirs.push(dev.dataDir);
  }, 120_000);

  test("the node reports its runtime", async () => {
    const nodes = await eventually(async () => {
      const list = (await getJson<any[]>(`${dev.url}/v1/nodes`)).body;
      return list.length === 1 && list;
    }, 20_000);
    const node = (await getJson<any>(`${dev.url}/v1/node/${nodes[0].id}`)).body;
    const attrs = node.attributes;
    expect(attrs["driver.container.runtime"]).toBe("runc");
    expect(attrs["driver.container.version"]).toMatch(/^\d+\.\d+/);
  }, 30_000);

  test("a batch container runs the image's entrypoint with the task's command, env and layers; logs and exit code as exec's", async () => {
    await submit(dev.url, containerJob("hello", {
      image, args: ["echo \"$GREETING / $MSG / $(cat note) / $(pwd) / $(id -u)\"; ls /etc; echo oops >&2; ls /local >/dev/null && exit 3"],
      env: { MSG: "from the task" },
    }));
    const a = await settled("hello", (x) => x.clientStatus === "failed" || x.clientStatus === "complete");
    const t = a.taskStates.t;
    expect(t.exitCode).toBe(3);
    expect(logOf(a.id, "t")).toContain("from the image / from the task / from layer two / /etc / 0");
    expect(logOf(a.id, "t")).not.toContain("old"); // whited out by the second layer
    expect(logOf(a.id, "t", "stderr")).toContain("oops");
    const events = t.events.map((e: any) => `${e.type}: ${e.message}`);
    expect(events.some((e: string) => e.startsWith("Pulling Image: pulled layer 2/2"))).toBe(true);
  }, 120_000);

  test("the image's User (a name in its own /etc/passwd) runs the process, through folders it can traverse", async () => {
    await submit(dev.url, containerJob("as-app", { image: `${reg!.host}/corral/app:user` }));
    const a = await settled("as-app", (x) => x.clientStatus === "complete" || x.clientStatus === "failed");
    expect(logOf(a.id, "t", "stderr")).toBe("");
    expect(logOf(a.id, "t")).toBe("1000\n1000\nfrom layer two");
  }, 120_000);

  test("an image the registry does not have fails the task with the reason; a crashing container restarts by policy", async () => {
    await submit(dev.url, containerJob("missing", { image: `${reg!.host}/corral/nope:v1` }));
    const m = await settled("missing", (x) => x.clientStatus === "failed");
    expect(m.taskStates.t.events.at(-1).message).toContain(`image ${reg!.host}/corral/nope:v1 not found`);
    const crashy = containerJob("crashy", { image, args: ["echo run; exit 7"] });
    crashy.groups[0]!.restart = { attempts: 1, delay: "200ms", interval: "10m", mode: "fail" };
    await submit(dev.url, crashy);
    const c = await settled("crashy", (x) => x.clientStatus === "failed");
    expect(c.taskStates.t.restarts).toBe(1);
    expect(c.taskStates.t.exitCode).toBe(7);
    expect(logOf(c.id, "t")).toBe("run\nrun\n"); // the same container name ran twice (runc's state of the first was cleared)
  }, 120_000);

  test("a second allocation of the image pulls nothing", async () => {
    await submit(dev.url, containerJob("again", { image, args: ["exit 0"] }));
    const a = await settled("again", (x) => x.clientStatus === "complete" || x.clientStatus === "failed");
    expect(a.clientStatus).toBe("complete");
    const events = a.taskStates.t.events.map((e: any) => `${e.type}: ${e.message}`);
    expect(events.some((e: string) => e.includes("already on the node"))).toBe(true);
    expect(events.some((e: string) => e.includes("pulled layer"))).toBe(false);
  }, 120_000);

  test("a service container on its dynamic port; stopping sends the image's StopSignal", async () => {
    await submit(dev.url, containerJob("web", {
      image, ports: { http: {} },
      args: ["trap 'echo got USR1; exit 0' USR1; httpd -p $CORRAL_PORT_HTTP -h /www; while true; do sleep 0.2; done"],
    }, "service"));
    const a = await settled("web", (x) => x.clientStatus === "running");
    const port = a.ports.find((p: any) => p.label === "http").value;
    const body = await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => undefined), 20_000);
    expect(body).toBe("served from a container\n");
    const r = await getJson(`${dev.url}/v1/job/web`, { method: "DELETE" });
    expect(r.status).toBe(200);
    const done = await settled("web", (x) => x.id === a.id && x.taskStates?.t?.state === "dead");
    expect(logOf(a.id, "t")).toContain("got USR1");
    const killing = done.taskStates.t.events.find((e: any) => e.type === "Killing");
    expect(killing.message).toContain("SIGUSR1, SIGKILL after 3s");
    expect(done.taskStates.t.exitCode).toBe(0);
    // Over for good: the task's overlay root is unmounted and its runtime state gone.
    const bundle = join(dev.dataDir, "exec", "allocs", a.id, "containers", "t");
    await eventually(() => !readFileSync("/proc/self/mounts", "utf8").includes(bundle), 10_000);
    const list = spawnSync("runc", ["--root", join(dev.dataDir, "container", "state"), "list", "-q"], { encoding: "utf8" }).stdout;
    expect(list).not.toContain(a.id);
  }, 120_000);

  test("no new namespaces from inside (seccomp): a user namespace (unshare -U, which needs no capability) is refused", async () => {
    await submit(dev.url, containerJob("ns", { image, args: ["unshare -U -r id -u || echo unshare refused; unshare -m true || echo mount ns refused"] }));
    const a = await settled("ns", (x) => x.clientStatus === "complete" || x.clientStatus === "failed");
    expect(logOf(a.id, "t")).toBe("unshare refused\nmount ns refused\n");
    expect(logOf(a.id, "t", "stderr")).toContain("Operation not permitted");
  }, 120_000);

  test("readonly_rootfs: the image's files cannot be written, the task folder (/local) can", async () => {
    await submit(dev.url, containerJob("ro", { image, readonly_rootfs: true, args: ["echo x > /etc/note || echo refused; echo y > /local/f && cat /local/f"] }));
    const a = await settled("ro", (x) => x.clientStatus === "complete" || x.clientStatus === "failed");
    expect(logOf(a.id, "t")).toBe("refused\ny\n");
    expect(logOf(a.id, "t", "stderr")).toContain("Read-only file system");
  }, 120_000);

  test("an agent killed with -9 finds its running container again: same process, still serving, then stops it", async () => {
    // On the node's network: the container answers by itself while no agent runs (in its allocation's
    // network the agent's port proxy is the way in; network.test.ts covers that one's reattach).
    await submit(dev.url, containerJob("keep", {
      image, network_mode: "host", ports: { http: {} }, args: ["trap 'echo bye; exit 0' USR1; httpd -p $CORRAL_PORT_HTTP -h /www; while true; do sleep 0.2; done"],
    }, "service"));
    const a = await settled("keep", (x) => x.clientStatus === "running");
    const port = a.ports.find((p: any) => p.label === "http").value;
    await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false), 20_000);
    const pid = Number(/pid (\d+)/.exec(a.taskStates.t.events.find((e: any) => e.type === "Started").message)![1]);
    const since = Date.now();
    await dev.kill("SIGKILL");
    expect((await fetch(`http://127.0.0.1:${port}/`)).ok).toBe(true); // the container does not depend on the agent
    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config: readFileSync(dev.configFile!, "utf8") });
    const back = await settled("keep", (x) => x.id === a.id && x.taskStates?.t?.events?.some((e: any) => e.type === "Reattached" && e.at > since));
    expect(back.taskStates.t.events.find((e: any) => e.type === "Reattached").message).toContain(`pid ${pid}`);
    expect(back.taskStates.t.restarts).toBe(0);
    expect((await fetch(`http://127.0.0.1:${port}/`)).ok).toBe(true);
    await getJson(`${dev.url}/v1/job/keep`, { method: "DELETE" });
    await settled("keep", (x) => x.id === a.id && x.taskStates?.t?.state === "dead");
    expect(logOf(a.id, "t")).toContain("bye"); // the image's StopSignal, sent by the new agent
    expect(await fetch(`http://127.0.0.1:${port}/`).then(() => "up", () => "down")).toBe("down");
  }, 120_000);

  test("memory above the task's limit: the container is OOM-killed and the task says so", async () => {
    await submit(dev.url, containerJob("hog", { image, resources: { cpu: 100, memory: 16 }, args: ["x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"] }));
    const a = await settled("hog", (x) => x.clientStatus === "failed");
    expect(a.taskStates.t.oom).toBe(true);
    expect(a.taskStates.t.events.at(-1).message).toContain("memory above 16 MB (OOM)");
  }, 120_000);
});

describe.skipIf(!!missing)("a node without an OCI runtime", () => {
  test("reports none, and container tasks are not placed there, with the reason", async () => {
    const n = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\ncontainer_runtime = "/nonexistent/runc"\n`,
    });
    dirs.push(n.dataDir);
    const nodes = await eventually(async () => {
      const list = (await getJson<any[]>(`${n.url}/v1/nodes`)).body;
      return list.length === 1 && list;
    }, 20_000);
    expect((await getJson<any>(`${n.url}/v1/node/${nodes[0].id}`)).body.attributes["driver.container.runtime"]).toBeUndefined();
    const reg = await submit(n.url, containerJob("nowhere", { image: "127.0.0.1:1/x:v1" }));
    const ev = await eventually(async () => {
      const e = (await getJson(`${n.url}/v1/evaluation/${reg.evalId}`)).body;
      return e.status !== "pending" && e;
    }, 15_000);
    expect(ev.status).toBe("blocked");
    expect(Object.keys(ev.failedGroups[0].metrics.reasons)).toEqual(["driver: container tasks need an OCI runtime (runc or crun) on the node"]);
    await n.kill();
  }, 60_000);

});
