// The route out of a container's own network (docs/containers.md "Network"):
// real runc, real namespaces, a real slirp4netns per allocation. What a user
// sees: a container reaches a server on the node's non-loopback address,
// not one on the node's loopback; each allocation has its own helper; one
// that outlives an agent killed with -9 is taken up again (still one, still
// reaching out); it goes with its allocation, and one an earlier agent
// recorded for an allocation gone is killed at start (never a process that
// reused its pid); container_outbound = false is
// the veth alone again (and the node no longer says it has a route out).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { cleanup, eventually, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, submit } from "../jobs/cluster-helpers.ts";
import { BUSYBOX, push, containerJob, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";
import { nodeAddress, slirpMissing, slirpsOf } from "./slirp-helpers.ts";
import { netNames } from "../../plugins/container/subnet.ts";
import { slirpArgs } from "../../plugins/container/outbound.ts";

const host = nodeAddress();
const missing = containerTestsMissing() ??
  (spawnSync("ip", ["-V"]).status !== 0 ? "ip is not installed (apt package iproute2)" : undefined) ??
  slirpMissing() ?? (host ? undefined : "the node has no global IPv4 address to serve on");
if (missing) console.log(`skipping container route-out tests: ${missing}`);

const dirs: string[] = [];
const servers: Server[] = [];
let reg: Registry | undefined;
let dev: CorralProcess;
/** Processes a test started itself (a ghost's helper, a bystander): ended in afterAll if still there. */
const started: number[] = [];
afterAll(async () => {
  await killAll();
  for (const pid of started) {
    try {
      if (/slirp4netns|sleep/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"))) process.kill(pid, "SIGKILL");
    } catch {}
  }
  spawnSync("ip", ["netns", "del", netNames("0badc0de-0000-4000-8000-0000000000aa").ns]);
  if (dev) {
    endContainers(dev.dataDir); // kills the recorded slirp4netns processes too
    const net = join(dev.dataDir, "container", "net");
    for (const f of existsSync(net) ? spawnSync("ls", [net], { encoding: "utf8" }).stdout.split("\n").filter((x) => x.endsWith(".json")) : []) {
      const n = netNames(f.replace(/\.json$/, ""));
      spawnSync("ip", ["netns", "del", n.ns]);
      spawnSync("ip", ["link", "del", n.hostIf]);
    }
  }
  for (const s of servers) s.close();
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

/** An HTTP server of the test on `addr`: answers "reached <path>", counts requests by path. */
async function serve(addr: string): Promise<{ port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const s = createServer((req, res) => {
    hits.set(req.url ?? "/", (hits.get(req.url ?? "/") ?? 0) + 1);
    res.end(`reached ${req.url}\n`);
  }).listen(0, addr);
  servers.push(s);
  await new Promise((r) => s.once("listening", r));
  return { port: (s.address() as AddressInfo).port, hits };
}

const logOf = (allocId: string) => {
  const f = join(dev.dataDir, "exec", "allocs", allocId, "logs", "t.stdout.log");
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};
const finished = (jobId: string) =>
  eventually(async () => (await allocs(dev.url, jobId)).find((x: any) => x.clientStatus === "complete" || x.clientStatus === "failed"), 90_000, 200);
const nodeAttrs = async () => (await getJson<any>(`${dev.url}/v1/node/${(await getJson<any[]>(`${dev.url}/v1/nodes`)).body[0].id}`)).body.attributes ?? {};
const config = (extra = "") =>
  `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "3s"\ncontainer_insecure_registries = ["${reg!.host}"]\n${extra}`;

describe.skipIf(!!missing)("a route out for containers in their own network (slirp4netns)", () => {
  let image: string;
  let outside: { port: number; hits: Map<string, number> };
  let loopback: { port: number; hits: Map<string, number> };
  beforeAll(async () => {
    const d = tempDir("corral-ctrout-");
    dirs.push(d);
    reg = await startRegistry(d);
    const base = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "cat", "sleep", "wget", "ip", "timeout", "grep"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
      { type: "directory", name: "etc" },
      { type: "file", name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
      { type: "file", name: "etc/group", data: "root:x:0:\n" },
    ]);
    const built = writeLayout(join(d, "layout"), "v1", [base], { Entrypoint: ["/bin/sh", "-c"], Cmd: ["true"], Env: ["PATH=/bin"] });
    push(built.layout, "v1", `${reg.host}/corral/out:v1`);
    image = `${reg.host}/corral/out:v1`;
    outside = await serve(host!);
    loopback = await serve("127.0.0.1");
    dev = await startCorral({ role: "dev", config: config() });
    dirs.push(dev.dataDir);
    await eventually(async () => ((await getJson<any[]>(`${dev.url}/v1/nodes`)).body ?? []).length === 1 || undefined, 30_000);
  }, 120_000);

  test("a container reaches a server on the node's address, not one on the node's loopback; its DNS is slirp's; the helper goes with it", async () => {
    await submit(dev.url, containerJob("out", {
      image,
      args: [
        `echo routes: $(ip route | grep default); ` +
        `(timeout 10 wget -q -O - http://${host}:${outside.port}/out || echo OUTSIDE-FAILED); ` +
        // The node's loopback through slirp's gateway (--disable-host-loopback), and through the veth's node end.
        `(timeout 5 wget -q -O - http://10.0.2.2:${loopback.port}/lo && echo LOOPBACK-REACHED || echo loopback-blocked); ` +
        `cat /etc/resolv.conf`,
      ],
    }));
    const a = await finished("out");
    const out = logOf(a.id);
    expect(out).toContain("reached /out");
    expect(out).toContain("routes: default via 10.0.2.2 dev tap0");
    expect(out).not.toContain("OUTSIDE-FAILED");
    expect(out).toContain("loopback-blocked");
    expect(out).not.toContain("LOOPBACK-REACHED");
    expect(loopback.hits.size).toBe(0);
    expect(out).toContain("nameserver 10.0.2.3");
    // The node tells the scheduler (and operators) it gives containers a route out.
    expect((await nodeAttrs())["driver.container.outbound"]).toBe("slirp4netns");
    // Its allocation over: its helper is gone with its namespace.
    await eventually(() => (slirpsOf(a.id).length === 0 && !existsSync(`/run/netns/${netNames(a.id).ns}`) ? true : undefined), 20_000, 200);
  }, 120_000);

  test("two allocations side by side each have their own slirp4netns; one survives an agent killed with -9 and is taken up, not doubled", async () => {
    // Each container asks the outside server for its own path every 300 ms.
    await submit(dev.url, containerJob("pair", {
      image, args: [`trap 'exit 0' TERM; while true; do timeout 5 wget -q -O /dev/null http://${host}:${outside.port}/$CORRAL_ALLOC_ID; sleep 0.3; done`],
    }, "service", 2));
    const running = await eventually(async () => {
      const l = (await allocs(dev.url, "pair")).filter((x: any) => x.clientStatus === "running");
      return l.length === 2 ? l : undefined;
    }, 90_000, 200);
    for (const a of running) await eventually(() => ((outside.hits.get(`/${a.id}`) ?? 0) > 0 ? true : undefined), 30_000, 200);
    const before = running.map((a: any) => slirpsOf(a.id));
    expect(before.map((p) => p.length)).toEqual([1, 1]);
    expect(before[0]![0]).not.toBe(before[1]![0]);
    // The pid the agent recorded is that process.
    for (const [i, a] of running.entries()) {
      expect(JSON.parse(readFileSync(join(dev.dataDir, "container", "net", `${a.id}.json`), "utf8")).slirpPid).toBe(before[i]![0]);
    }

    const since = Date.now();
    await dev.kill("SIGKILL");
    // The helpers outlive the agent, like the containers.
    expect(running.map((a: any) => slirpsOf(a.id))).toEqual(before);
    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config: readFileSync(dev.configFile!, "utf8") });
    for (const a of running) {
      await eventually(async () => (await allocs(dev.url, "pair")).find((x: any) => x.id === a.id && x.taskStates?.t?.events?.some((e: any) => e.type === "Reattached" && e.at > since)), 60_000, 200);
    }
    // Still reaching out, through the same single helper each.
    const counts = running.map((a: any) => outside.hits.get(`/${a.id}`) ?? 0);
    for (const [i, a] of running.entries()) await eventually(() => ((outside.hits.get(`/${a.id}`) ?? 0) > counts[i]! + 2 ? true : undefined), 30_000, 200);
    expect(running.map((a: any) => slirpsOf(a.id))).toEqual(before);

    await getJson(`${dev.url}/v1/job/pair`, { method: "DELETE" });
    for (const a of running) {
      await eventually(async () => (await allocs(dev.url, "pair")).find((x: any) => x.id === a.id && x.taskStates?.t?.state === "dead"), 60_000, 200);
      await eventually(() => (slirpsOf(a.id).length === 0 ? true : undefined), 20_000, 200);
    }
    // Only those: the pids are not alive as anything else we started either.
    for (const [pid] of before) expect(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("slirp4netns")).toBe(false);
  }, 240_000);

  test("at start, a recorded slirp4netns of an allocation not taken up is killed; a recorded pid now another process's is left alone", async () => {
    await dev.kill("SIGKILL");
    const net = join(dev.dataDir, "container", "net");
    const record = (allocId: string, slirpPid: number) => {
      const n = netNames(allocId);
      writeFileSync(join(net, `${allocId}.json`), JSON.stringify({ allocId, index: 16380, hostIp: "10.213.255.241", containerIp: "10.213.255.242", ns: n.ns, hostIf: n.hostIf, nsPath: `/run/netns/${n.ns}`, slirpPid }));
    };
    // An allocation that no longer exists, its namespace and helper left by an agent that died.
    const ghost = "0badc0de-0000-4000-8000-0000000000aa";
    spawnSync("ip", ["netns", "add", netNames(ghost).ns]);
    const helper = spawn("/usr/bin/slirp4netns", slirpArgs(`/run/netns/${netNames(ghost).ns}`), { detached: true, stdio: "ignore" });
    helper.unref();
    started.push(helper.pid!);
    await eventually(() => (slirpsOf(ghost).includes(helper.pid!) ? true : undefined), 10_000, 100);
    record(ghost, helper.pid!);
    // Another such allocation whose recorded pid now belongs to an unrelated process.
    const reused = "0badc0de-0000-4000-8000-0000000000bb";
    const bystander = spawn("/bin/sleep", ["120"], { detached: true, stdio: "ignore" });
    bystander.unref();
    started.push(bystander.pid!);
    record(reused, bystander.pid!);

    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config: readFileSync(dev.configFile!, "utf8") });
    await eventually(() => (!existsSync(join(net, `${ghost}.json`)) && !existsSync(join(net, `${reused}.json`)) ? true : undefined), 30_000, 200);
    await eventually(() => (!slirpsOf(ghost).includes(helper.pid!) ? true : undefined), 10_000, 100);
    expect(existsSync(`/run/netns/${netNames(ghost).ns}`)).toBe(false);
    // The bystander was not signalled.
    expect(bystander.exitCode).toBeNull();
    expect(readFileSync(`/proc/${bystander.pid}/cmdline`, "utf8")).toContain("sleep");
    bystander.kill("SIGKILL");
  }, 120_000);

  test("container_outbound = false: no route out, no helper, no fingerprint", async () => {
    await dev.kill("SIGKILL");
    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config: config("container_outbound = false\n") });
    await eventually(async () => ((await nodeAttrs())["driver.container.outbound"] === undefined ? true : undefined), 30_000, 300);
    await submit(dev.url, containerJob("closed", {
      image,
      args: [`echo routes: $(ip route | grep -c default) default; (timeout 5 wget -q -O - http://${host}:${outside.port}/closed && echo OUTSIDE-REACHED || echo outside-blocked); sleep 1`],
    }));
    const seen = await eventually(async () => (await allocs(dev.url, "closed")).find((x: any) => x.clientStatus === "running" || x.clientStatus === "complete"), 90_000, 100);
    expect(slirpsOf(seen.id)).toEqual([]);
    const a = await finished("closed");
    const out = logOf(a.id);
    expect(out).toContain("routes: 0 default");
    expect(out).toContain("outside-blocked");
    expect(outside.hits.get("/closed")).toBeUndefined();
  }, 180_000);
});
