// A network namespace per allocation (docs/containers.md "Network"): real
// runc, real veth pairs and namespaces (`ip`), the agent's port proxy on
// loopback. What a user sees: two allocations of one image both listening
// on 8080 inside, each on its own host port; their service check passing
// through the host port; a container that cannot reach the agent's
// loopback-only API; nothing of the kernel's left once they end; the
// listeners back after the agent is killed and restarted; an earlier
// agent's leftovers removed at start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { cleanup, eventually, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, submit } from "../jobs/cluster-helpers.ts";
import { BUSYBOX, push, containerJob, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";
import { netNames } from "../../plugins/container/subnet.ts";
import { slirpMissing } from "./slirp-helpers.ts";

const missing = containerTestsMissing() ??
  (spawnSync("ip", ["-V"]).status !== 0 ? "ip is not installed (apt package iproute2)" : undefined);
if (missing) console.log(`skipping container network tests: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let dev: CorralProcess;
afterAll(async () => {
  await killAll();
  if (dev) {
    endContainers(dev.dataDir);
    // Namespaces and veth pairs these tests' allocations left (a failed test): by the agent's own records.
    const net = join(dev.dataDir, "container", "net");
    for (const f of existsSync(net) ? readdirSync(net) : []) {
      const n = netNames(f.replace(/\.json$/, ""));
      spawnSync("ip", ["netns", "del", n.ns]);
      spawnSync("ip", ["link", "del", n.hostIf]);
    }
  }
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

/** What the kernel holds for an allocation's network. */
const kernelHas = (allocId: string) => {
  const n = netNames(allocId);
  return { netns: existsSync(`/run/netns/${n.ns}`), veth: existsSync(`/sys/class/net/${n.hostIf}`) };
};

const logOf = (allocId: string, task: string) => {
  const f = join(dev.dataDir, "exec", "allocs", allocId, "logs", `${task}.stdout.log`);
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};

const job = (id: string, type: string, count: number, task: Record<string, unknown>) => containerJob(id, task, type, count);

// Each container serves its own allocation id on 8080, whatever host port it got.
const SERVE = "mkdir -p /tmp/w && echo \"$CORRAL_ALLOC_ID port $CORRAL_PORT_HTTP host $CORRAL_HOST_PORT_HTTP\" > /tmp/w/index.html && httpd -p 8080 -h /tmp/w; trap 'exit 0' TERM; while true; do sleep 0.2; done";

describe.skipIf(!!missing)("a network namespace per allocation", () => {
  let image: string;
  beforeAll(async () => {
    const d = tempDir("corral-ctrnet-");
    dirs.push(d);
    reg = await startRegistry(d);
    const base = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "cat", "mkdir", "sleep", "httpd", "wget", "ip", "timeout", "sed", "grep"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
      { type: "directory", name: "etc" },
      { type: "file", name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
      { type: "file", name: "etc/group", data: "root:x:0:\n" },
    ]);
    const built = writeLayout(join(d, "layout"), "v1", [base], { Entrypoint: ["/bin/sh", "-c"], Cmd: ["true"], Env: ["PATH=/bin"] });
    push(built.layout, "v1", `${reg.host}/corral/net:v1`);
    image = `${reg.host}/corral/net:v1`;
    dev = await startCorral({
      role: "dev",
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "3s"\ncontainer_insecure_registries = ["${reg.host}"]\n`,
    });
    dirs.push(dev.dataDir);
    await eventually(async () => ((await getJson<any[]>(`${dev.url}/v1/nodes`)).body ?? []).length === 1 || undefined, 30_000);
  }, 120_000);

  test("two allocations of one image, both on 8080 inside, each on its own host port; checks pass through it; nothing left after", async () => {
    await submit(dev.url, job("twins", "service", 2, {
      image, args: [SERVE], ports: { http: { to: 8080 } },
      service: { name: "twins", port: "http", checks: [{ type: "http", path: "/", interval: "1s", timeout: "1s" }] },
    }));
    const running = await eventually(async () => {
      const l = (await allocs(dev.url, "twins")).filter((a: any) => a.clientStatus === "running");
      return l.length === 2 ? l : undefined;
    }, 90_000, 200);
    const served: string[] = [];
    for (const a of running) {
      const port = a.ports.find((p: any) => p.label === "http").value;
      expect(port).not.toBe(8080);
      const body = await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => (r.ok ? r.text() : undefined), () => undefined), 20_000)
        .catch((err) => { throw new Error(`${err}\n${dev.output().slice(-3000)}\n${logOf(a.id, "t")}`); });
      // Its own allocation answers, listening on 8080 inside, told the host port.
      expect(body.trim()).toBe(`${a.id} port 8080 host ${port}`);
      served.push(a.id);
      expect(kernelHas(a.id)).toEqual({ netns: true, veth: true });
    }
    expect(new Set(served).size).toBe(2);
    // The service's HTTP check reaches each container through its host port.
    const passing = await eventually(async () => {
      const r = await getJson<any[]>(`${dev.url}/v1/health/service/twins?passing`);
      return r.body?.length === 2 ? r.body : undefined;
    }, 30_000, 300);
    expect(passing.map((e: any) => e.Service.Port).sort()).toEqual(running.map((a: any) => a.ports[0].value).sort());

    await getJson(`${dev.url}/v1/job/twins`, { method: "DELETE" });
    for (const a of running) {
      await eventually(async () => (await allocs(dev.url, "twins")).find((x: any) => x.id === a.id && x.taskStates?.t?.state === "dead"), 60_000, 200);
      await eventually(() => { const k = kernelHas(a.id); return !k.netns && !k.veth ? true : undefined; }, 15_000, 200);
      const port = a.ports[0].value;
      expect(await fetch(`http://127.0.0.1:${port}/`).then(() => "up", () => "down")).toBe("down");
      expect(existsSync(join(dev.dataDir, "container", "net", `${a.id}.json`))).toBe(false);
    }
  }, 180_000);

  test("the container cannot reach the agent's loopback-only API, on 127.0.0.1 or through its veth", async () => {
    const api = dev.port;
    const any = createServer((_, res) => res.end("any-reached")).listen(0, "0.0.0.0");
    await new Promise((r) => any.once("listening", r));
    const anyPort = (any.address() as AddressInfo).port;
    await submit(dev.url, job("probe", "batch", 1, {
      image,
      args: [
        // Its own loopback works (a control: wget does reach what listens in its namespace)...
        "echo own > /tmp/i && httpd -p 8080 -h /tmp && timeout 5 wget -q -O - http://127.0.0.1:8080/i && " +
        // ...the agent's, on the node's loopback, does not; nor through the node's end of the veth pair.
        `(timeout 5 wget -q -O - http://127.0.0.1:${api}/v1/status/leader && echo LOOPBACK-REACHED || echo loopback-blocked); ` +
        // (the node's end of the pair is .1 of the container's /30: its address minus one)
        `gw=$(ip -o -4 addr show eth0 | sed -n 's/.*inet \\([0-9.]*\\)\\.\\([0-9]*\\)\\/.*/\\1 \\2/p' | { read net last; echo $net.$((last - 1)); }); echo gw=$gw; ` +
        // The default route, when there is one, is slirp4netns's (outbound.test.ts): never through the pair.
        `echo routes: $(ip route | grep -c default) default $(ip route | grep default | grep -c eth0) via-pair; ` +
        `(timeout 5 wget -q -O - http://$gw:${api}/v1/status/leader && echo VETH-REACHED || echo veth-blocked); ip -o -4 addr show eth0; ` +
        // A control for that address: what the node serves on all addresses is reached there (as docs/containers.md says).
        `timeout 5 wget -q -O - http://$gw:${anyPort}/ ; echo`,
      ],
    }));
    const a = await eventually(async () => (await allocs(dev.url, "probe")).find((x: any) => x.clientStatus === "complete" || x.clientStatus === "failed"), 90_000, 200);
    const out = logOf(a.id, "t");
    expect(out).toContain("own");
    expect(out).toContain("loopback-blocked");
    expect(out).toMatch(/gw=10\.213\.\d+\.\d+/);
    // With slirp4netns installed the route out is on by default (container_outbound): one default route, via tap0.
    expect(out).toContain(`routes: ${slirpMissing() ? 0 : 1} default 0 via-pair`);
    expect(out).toContain("veth-blocked");
    expect(out).not.toContain("REACHED");
    expect(out).toMatch(/inet 10\.213\.\d+\.\d+\/30/);
    expect(out).toContain("any-reached");
    any.close();
    await eventually(() => { const k = kernelHas(a.id); return !k.netns && !k.veth ? true : undefined; }, 15_000, 200);
  }, 120_000);

  test("network_mode = \"host\": the node's network; \"none\": loopback only; `to` is refused there and for exec tasks", async () => {
    const bad = await getJson<any>(`${dev.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job("bad", "service", 1, { image, network_mode: "host", ports: { http: { to: 80 } } })) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("to needs its own network");
    const execTo = { id: "bad2", type: "service", groups: [{ name: "g", tasks: [{ name: "t", driver: "exec", command: "/bin/true", ports: { http: { to: 80 } } }] }] };
    const bad2 = await getJson<any>(`${dev.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(execTo) });
    expect(bad2.status).toBe(400);
    expect(JSON.stringify(bad2.body)).toContain("to (the port inside the container) is for the container driver");

    await submit(dev.url, job("hostnet", "batch", 1, { image, network_mode: "host", args: ["ip -o link"] }));
    const a = await eventually(async () => (await allocs(dev.url, "hostnet")).find((x: any) => x.clientStatus === "complete"), 90_000, 200);
    // The node's interfaces (its loopback and the real ones), not a namespace's lo + eth0.
    // (Veth pairs come and go with other allocations: compared without them.)
    const names = (text: string) => [...text.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]!).filter((n) => !/^(crl|veth)/.test(n)).sort();
    const inside = names(logOf(a.id, "t"));
    expect(inside).toContain("lo");
    expect(inside).toEqual(names(spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout));
    expect(kernelHas(a.id)).toEqual({ netns: false, veth: false });

    // "none": a namespace of its own with its loopback alone.
    await submit(dev.url, job("nonet", "batch", 1, { image, network_mode: "none", args: ["ip -o link"] }));
    const b = await eventually(async () => (await allocs(dev.url, "nonet")).find((x: any) => x.clientStatus === "complete" || x.clientStatus === "failed"), 90_000, 200);
    expect(b.taskStates.t.events.map((e: any) => e.message).join("; ")).not.toContain("Failed");
    expect(b.clientStatus).toBe("complete");
    expect(names(logOf(b.id, "t"))).toEqual(["lo"]);
    expect(kernelHas(b.id)).toEqual({ netns: false, veth: false });
  }, 120_000);

  test("an agent killed with -9: the container runs on, the next agent re-opens its host port; an earlier agent's leftovers go", async () => {
    await submit(dev.url, job("keep", "service", 1, { image, args: [SERVE], ports: { http: { to: 8080 } } }));
    const a = await eventually(async () => (await allocs(dev.url, "keep")).find((x: any) => x.clientStatus === "running"), 90_000, 200);
    const port = a.ports[0].value;
    await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok || undefined, () => undefined), 20_000);
    const since = Date.now();
    await dev.kill("SIGKILL");
    // A network an agent recorded for an allocation that no longer exists (it died setting it up, say).
    const ghost = "0badc0de-0000-4000-8000-000000000000";
    const g = netNames(ghost);
    spawnSync("ip", ["netns", "add", g.ns]);
    spawnSync("ip", ["link", "add", g.hostIf, "type", "veth", "peer", "name", g.peerIf]);
    mkdirSync(join(dev.dataDir, "container", "net"), { recursive: true });
    writeFileSync(join(dev.dataDir, "container", "net", `${ghost}.json`), JSON.stringify({ allocId: ghost, index: 16383, hostIp: "10.213.255.253", containerIp: "10.213.255.254", ns: g.ns, hostIf: g.hostIf, nsPath: `/run/netns/${g.ns}` }));
    expect(kernelHas(ghost)).toEqual({ netns: true, veth: true });

    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config: readFileSync(dev.configFile!, "utf8") });
    const back = await eventually(async () => (await allocs(dev.url, "keep")).find((x: any) => x.id === a.id && x.taskStates?.t?.events?.some((e: any) => e.type === "Reattached" && e.at > since)), 60_000, 200);
    expect(back.taskStates.t.restarts).toBe(0);
    const body = await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => (r.ok ? r.text() : undefined), () => undefined), 20_000);
    expect(body.trim()).toBe(`${a.id} port 8080 host ${port}`);
    await eventually(() => { const k = kernelHas(ghost); return !k.netns && !k.veth ? true : undefined; }, 15_000, 200);

    await getJson(`${dev.url}/v1/job/keep`, { method: "DELETE" });
    await eventually(async () => (await allocs(dev.url, "keep")).find((x: any) => x.id === a.id && x.taskStates?.t?.state === "dead"), 60_000, 200);
    await eventually(() => { const k = kernelHas(a.id); return !k.netns && !k.veth ? true : undefined; }, 15_000, 200);
  }, 180_000);
});
