// Issue 17's test list, the parts the other container tests left weak:
//   - cache reuse counted at the registry (a counting proxy in front of it):
//     a second allocation fetches no blob;
//   - pull progress as a user reads it: `corral alloc status`;
//   - the image's StopSignal honoured, and a container that stays anyway
//     killed once kill_timeout is over;
//   - a service container on a dynamic port (`to` inside) with an HTTP
//     check, called by name through invoke (/v1/invoke/<service>/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, cleanup, ENTRY, eventually, freePort, getJson, killAll, ROOT, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, submit } from "../jobs/cluster-helpers.ts";
import { BUSYBOX, push, containerJob, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";

const missing = containerTestsMissing();
if (missing) console.log(`skipping container lifecycle tests: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let proxy: ReturnType<typeof Bun.serve> | undefined;
let dev: CorralProcess;
/** Requests the registry got through the proxy, as "METHOD path". */
const seen: string[] = [];

afterAll(async () => {
  await killAll();
  if (dev) {
    endContainers(dev.dataDir);
  }
  proxy?.stop(true);
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

const job = (id: string, type: string, task: Record<string, unknown>) => containerJob(id, task, type);

const logOf = (allocId: string) => {
  const f = join(dev.dataDir, "exec", "allocs", allocId, "logs", "t.stdout.log");
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};
const settled = (jobId: string, pred: (a: any) => boolean) => eventually(async () => (await allocs(dev.url, jobId)).find(pred), 90_000, 200);
const blobGets = () => seen.filter((r) => /^GET \/v2\/.+\/blobs\/sha256:/.test(r)).length;

describe.skipIf(!!missing)("container lifecycle", () => {
  let image: string;
  beforeAll(async () => {
    const d = tempDir("corral-ctrlife-");
    dirs.push(d);
    reg = await startRegistry(d);
    const upstream = `http://${reg.host}`;
    const port = await freePort();
    proxy = Bun.serve({
      hostname: "127.0.0.1", port,
      async fetch(req) {
        const url = new URL(req.url);
        seen.push(`${req.method} ${url.pathname}`);
        const r = await fetch(upstream + url.pathname + url.search, { method: req.method, headers: req.headers, redirect: "manual", decompress: false } as RequestInit);
        return new Response(req.method === "HEAD" ? null : r.body, { status: r.status, headers: r.headers });
      },
    });
    const base = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "mkdir", "sleep", "httpd"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
    ]);
    const www = await tarOf([{ type: "directory", name: "www" }, { type: "file", name: "www/index.html", data: "hello through invoke\n" }]);
    push(writeLayout(join(d, "layout"), "v1", [base, www], { Entrypoint: ["/bin/sh", "-c"], Env: ["PATH=/bin"], StopSignal: "SIGUSR1" }).layout, "v1", `${reg.host}/life/app:v1`);
    image = `127.0.0.1:${port}/life/app:v1`;
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec", "invoke"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "3s"\ncontainer_insecure_registries = ["127.0.0.1:${port}"]\n`,
    });
    dirs.push(dev.dataDir);
    await eventually(async () => ((await getJson<any[]>(`${dev.url}/v1/nodes`)).body ?? []).length === 1 || undefined, 30_000);
  }, 120_000);

  test("cache reuse: the first allocation fetches every blob from the registry, the second none; pull progress in `corral alloc status`", async () => {
    await submit(dev.url, job("cold", "batch", { image, args: ["echo cold"] }));
    const cold = await settled("cold", (a) => a.clientStatus === "complete" || a.clientStatus === "failed");
    expect(cold.clientStatus).toBe("complete");
    expect(blobGets()).toBe(3); // the config and two layers
    const status = spawnSync(BUN, [ENTRY, "alloc", "status", cold.id.slice(0, 8), "--addr", dev.url], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/Pulling Image\s+pulled layer 1\/2/);
    expect(status.stdout).toMatch(/Pulling Image\s+pulled layer 2\/2/);

    await submit(dev.url, job("warm", "batch", { image, args: ["echo warm"] }));
    const warm = await settled("warm", (a) => a.clientStatus === "complete" || a.clientStatus === "failed");
    expect(warm.clientStatus).toBe("complete");
    expect(logOf(warm.id)).toBe("warm\n");
    expect(blobGets()).toBe(3); // nothing more: every blob was on the node
    expect(warm.taskStates.t.events.some((e: any) => e.message.includes("already on the node"))).toBe(true);
  }, 180_000);

  test("stop: the image's StopSignal first; a container that stays is killed once kill_timeout is over", async () => {
    await submit(dev.url, job("stubborn", "service", { image, args: ["trap 'echo got USR1, staying' USR1; echo up; while true; do sleep 0.2; done"] }));
    const a = await settled("stubborn", (x) => x.clientStatus === "running");
    await eventually(() => logOf(a.id).includes("up") || undefined, 20_000);
    const r = await getJson(`${dev.url}/v1/job/stubborn`, { method: "DELETE" });
    expect(r.status).toBe(200);
    const done = await settled("stubborn", (x) => x.id === a.id && x.taskStates?.t?.state === "dead");
    const events = done.taskStates.t.events;
    const killing = events.find((e: any) => e.type === "Killing");
    expect(killing.message).toContain("SIGUSR1, SIGKILL after 3s");
    expect(logOf(a.id)).toContain("got USR1, staying"); // the signal reached it, and it stayed
    // It ended by the SIGKILL at the end of the grace, not before.
    expect(events.at(-1).at - killing.at).toBeGreaterThanOrEqual(2500);
    expect(JSON.stringify(events.at(-1))).toMatch(/SIGKILL|137|signal 9|killed/i);
  }, 120_000);

  test("a service container on a dynamic port with an HTTP check is reached by name through invoke", async () => {
    await submit(dev.url, job("ctr-web", "service", {
      image, ports: { http: { to: 8080 } },
      args: ["httpd -p 8080 -h /www; trap 'exit 0' USR1; while true; do sleep 0.2; done"],
      service: { name: "ctr-web", port: "http", checks: [{ type: "http", path: "/", interval: "1s", timeout: "1s" }] },
    }));
    const a = await settled("ctr-web", (x) => x.clientStatus === "running");
    const hostPort = a.ports.find((p: any) => p.label === "http").value;
    expect(hostPort).not.toBe(8080);
    // The check passes (it goes through the host port, like any client), so invoke has a healthy instance.
    const body = await eventually(async () => {
      const r = await fetch(`${dev.url}/v1/invoke/ctr-web/`).catch(() => undefined);
      return r?.status === 200 ? r.text() : undefined;
    }, 60_000, 300);
    expect(body).toBe("hello through invoke\n");
    const health = (await getJson<any[]>(`${dev.url}/v1/health/service/ctr-web?passing`)).body;
    expect(health.length).toBe(1);
    expect(health[0].Service.Port).toBe(hostPort);
  }, 120_000);
});
