// Container security end to end (issue 17 point 7, docs/containers.md
// "Security"): what a job writer who asks for more than the node allows
// sees, and what a container gets where the node does allow it. Two dev
// nodes, each its own cluster: one with the defaults (no privileged
// containers, the default capabilities, images only from the test's
// registry), one that allows privileged containers and NET_ADMIN, given as
// [plugins.container] (the alias of [plugins.exec] container_*).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, eventually, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, submit } from "../jobs/cluster-helpers.ts";
import { BUSYBOX, push, containerJob, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";

const missing = containerTestsMissing();
if (missing) console.log(`skipping container security tests: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let strict: CorralProcess;
let lenient: CorralProcess;
let image: string;

afterAll(async () => {
  await killAll();
  for (const n of [strict, lenient]) {
    if (!n) continue;
    endContainers(n.dataDir);
  }
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

const job = (id: string, task: Record<string, unknown>) => containerJob(id, task);

const logOf = (n: CorralProcess, allocId: string) => {
  const f = join(n.dataDir, "exec", "allocs", allocId, "logs", "t.stdout.log");
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};

async function finished(n: CorralProcess, jobId: string): Promise<any> {
  return eventually(async () => (await allocs(n.url, jobId)).find((a: any) => a.clientStatus === "complete" || a.clientStatus === "failed"), 90_000, 200);
}

/** The evaluation of a job that cannot be placed: blocked, with the reasons nodes were filtered. */
async function blockedReasons(n: CorralProcess, jobId: string, evalId: string): Promise<string[]> {
  const ev = await eventually(async () => {
    const e = (await getJson<any>(`${n.url}/v1/evaluation/${evalId}`)).body;
    return e.status !== "pending" && e;
  }, 20_000);
  expect(ev.status).toBe("blocked");
  expect(await allocs(n.url, jobId)).toEqual([]);
  return Object.keys(ev.failedGroups[0].metrics.reasons);
}

async function nodeAttributes(n: CorralProcess): Promise<Record<string, string>> {
  const list = await eventually(async () => {
    const l = (await getJson<any[]>(`${n.url}/v1/nodes`)).body;
    return l.length === 1 && l;
  }, 20_000);
  return (await getJson<any>(`${n.url}/v1/node/${list[0].id}`)).body.attributes;
}

/** The capability sets of /proc/self/status (hex), as the process reading it has them. */
function capLine(status: string, name: string): bigint {
  const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(status);
  if (!m) throw new Error(`no ${name} in ${status}`);
  return BigInt(`0x${m[1]}`);
}

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

describe.skipIf(!!missing)("container security", () => {
  beforeAll(async () => {
    const d = tempDir("corral-ctrsec-");
    dirs.push(d);
    reg = await startRegistry(d);
    const layer = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "cat", "grep", "ip", "ls", "echo", "dmesg"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
    ]);
    push(writeLayout(join(d, "layout"), "v1", [layer], { Entrypoint: ["/bin/sh", "-c"], Env: ["PATH=/bin"] }).layout, "v1", `${reg.host}/sec/app:v1`);
    image = `${reg.host}/sec/app:v1`;
    const common = `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n`;
    [strict, lenient] = await Promise.all([
      startCorral({ role: "dev", config: `${common}[plugins.exec]\ncontainer_insecure_registries = ["${reg.host}"]\ncontainer_allowed_registries = ["${reg.host}"]\n` }),
      startCorral({
        role: "dev",
        config: `${common}[plugins.container]\ninsecure_registries = ["${reg.host}"]\nallow_privileged = true\nallow_caps = ["chown", "dac_override", "fsetid", "fowner", "setgid", "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write", "net_admin", "syslog"]\n`,
      }),
    ]);
    dirs.push(strict.dataDir, lenient.dataDir);
  }, 120_000);

  test("the nodes report what they allow: privileged only where switched on, the allowed capabilities", async () => {
    const s = await nodeAttributes(strict);
    expect(s["driver.container.privileged"]).toBeUndefined();
    expect(s["driver.container.caps"]).toBe("chown,dac_override,fsetid,fowner,setgid,setuid,setfcap,setpcap,net_bind_service,sys_chroot,kill,audit_write");
    const l = await nodeAttributes(lenient);
    expect(l["driver.container.privileged"]).toBe("true");
    expect(l["driver.container.caps"]).toContain("net_admin");
  }, 30_000);

  test("a privileged job is not placed on a default node; the placement explanation says why", async () => {
    const r = await submit(strict.url, job("priv", { image, privileged: true, args: ["true"] }));
    expect(await blockedReasons(strict, "priv", r.evalId)).toEqual([
      `driver: task "t" is privileged: the node's agent must set [plugins.exec] container_allow_privileged = true`,
    ]);
  }, 60_000);

  test("cap_add outside the node's container_allow_caps: not placed, the capability named", async () => {
    const r = await submit(strict.url, job("netadm", { image, cap_add: ["net_admin"], args: ["true"] }));
    const [reason] = await blockedReasons(strict, "netadm", r.evalId);
    expect(reason).toContain(`task "t" needs capabilities`);
    expect(reason).toContain("net_admin");
    expect(reason).toContain("container_allow_caps");
    // Where NET_ADMIN is allowed, SYS_ADMIN still is not.
    const r2 = await submit(lenient.url, job("sysadm", { image, cap_add: ["SYS_ADMIN"], args: ["true"] }));
    expect((await blockedReasons(lenient, "sysadm", r2.evalId))[0]).toContain("sys_admin");
  }, 60_000);

  test("an unknown capability name, or caps with privileged, is refused at submission with a 400 naming the key", async () => {
    const bad = await getJson<any>(`${strict.url}/v1/jobs`, { method: "POST", body: JSON.stringify(job("typo", { image, cap_add: ["net_admn"] })) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain(`unknown capability \\"net_admn\\"`);
    expect(JSON.stringify(bad.body)).toContain("cap_add");
    const both = await getJson<any>(`${strict.url}/v1/jobs`, { method: "POST", body: JSON.stringify(job("both", { image, privileged: true, cap_drop: ["all"] })) });
    expect(both.status).toBe(400);
    expect(JSON.stringify(both.body)).toContain("cap_drop has no meaning with privileged = true");
    const exec = await getJson<any>(`${strict.url}/v1/jobs`, { method: "POST", body: JSON.stringify({ ...job("ex", {}), groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", privileged: true }] }] }) });
    expect(exec.status).toBe(400);
    expect(JSON.stringify(exec.body)).toContain("privileged is for the container driver");
  }, 30_000);

  test("with container_allow_privileged: the privileged container has every capability the node gives (CapEff = a root process's CapBnd there, all ones on an unrestricted node), its devices, no seccomp", async () => {
    await submit(lenient.url, job("priv-ok", { image, privileged: true, args: ["grep -E '^(CapEff|Seccomp):' /proc/self/status; ls /dev"] }));
    const a = await finished(lenient, "priv-ok");
    if (a.clientStatus !== "complete") console.log(JSON.stringify(a.taskStates.t.events), readFileSync(join(lenient.dataDir, "exec", "allocs", a.id, "logs", "t.stderr.log"), "utf8"));
    expect(a.clientStatus).toBe("complete");
    const out = logOf(lenient, a.id);
    // Every capability this kernel has: the bounding set of a root process on the node.
    const all = capLine(readFileSync("/proc/self/status", "utf8"), "CapBnd");
    expect(capLine(out, "CapEff")).toBe(all);
    expect(out).toMatch(/^Seccomp:\s*0$/m);
    for (const dev of ["null", "zero"]) expect(out).toContain(dev);
    const hostDev = (spawnSync("ls", ["/dev"], { encoding: "utf8" }).stdout ?? "").split("\n").filter((n) => /^(loop|tty)\d+$/.test(n));
    for (const d of hostDev.slice(0, 3)) expect(out).toContain(d); // the node's devices, created in the container
  }, 120_000);

  test("cap_add / cap_drop change the set: NET_ADMIN added (and usable), CHOWN dropped; no SYS_ADMIN; seccomp stays", async () => {
    await submit(lenient.url, job("caps", { image, cap_add: ["net_admin"], cap_drop: ["CAP_CHOWN"], network_mode: "none", args: ["grep -E '^(CapEff|Seccomp):' /proc/self/status; ip link set lo mtu 1400 && echo mtu set"] }));
    const a = await finished(lenient, "caps");
    const out = logOf(lenient, a.id);
    const eff = capLine(out, "CapEff");
    expect((eff >> CAP_NET_ADMIN) & 1n).toBe(1n);
    expect(eff & 1n).toBe(0n); // CAP_CHOWN is bit 0
    expect((eff >> CAP_SYS_ADMIN) & 1n).toBe(0n);
    expect(out).toMatch(/^Seccomp:\s*2$/m);
    expect(out).toContain("mtu set");
    // Without cap_add, the same command is refused.
    await submit(lenient.url, job("nocaps", { image, network_mode: "none", args: ["ip link set lo mtu 1400 && echo mtu set || echo refused"] }));
    const b = await finished(lenient, "nocaps");
    expect(logOf(lenient, b.id)).toContain("refused");
  }, 120_000);

  test("an added capability opens the seccomp filter's calls that need it: syslog (dmesg) with cap_add syslog, refused without", async () => {
    await submit(lenient.url, job("klog", { image, cap_add: ["syslog"], args: ["dmesg >/dev/null && echo read"] }));
    await submit(lenient.url, job("noklog", { image, args: ["dmesg >/dev/null && echo read || echo refused"] }));
    const a = await finished(lenient, "klog");
    const b = await finished(lenient, "noklog");
    expect(logOf(lenient, a.id)).toBe("read\n");
    expect(logOf(lenient, b.id)).toBe("refused\n");
  }, 120_000);

  test("an image from a registry not in container_allowed_registries fails its start with the reason in its events", async () => {
    const other = image.replace(/^127\.0\.0\.1/, "localhost");
    await submit(strict.url, job("elsewhere", { image: other, args: ["true"] }));
    const a = await finished(strict, "elsewhere");
    expect(a.clientStatus).toBe("failed");
    const msgs = a.taskStates.t.events.map((e: any) => e.message).join("\n");
    expect(msgs).toContain(`registry ${other.split("/")[0]} is not in [plugins.exec] container_allowed_registries`);
    expect(msgs).not.toContain("pulled layer");
  }, 120_000);
});
