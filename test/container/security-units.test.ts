// Container security, the pure parts and the driver's own check: capability
// names and sets, privileged / cap_add / cap_drop in a job spec (and through
// the raft command that stores it), placement by the node's fingerprint,
// the bundle of a privileged or cap-changed task, [plugins.container] as
// [plugins.exec] container_*, and the LRU cache folder both caches use.
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capabilitiesNotAllowed, canonicalCapability, DEFAULT_CAPABILITIES, effectiveCapabilities, LINUX_CAPABILITIES } from "../../core/scheduler/capabilities.ts";
import { compileAsk } from "../../core/scheduler/ask.ts";
import { parseJobSpec } from "../../core/scheduler/jobspec.ts";
import { JobSchema, registerJobExtras } from "../../core/state/domains/jobs-commands.ts";
import { loadConfig } from "../../core/config/load.ts";
import { LruCacheDir } from "../../core/plugins/lru-cache-dir.ts";
import { ContainerDriver } from "../../plugins/container/driver.ts";
import { bundleConfig } from "../../plugins/container/bundle.ts";
import { BlobStore } from "../../plugins/container/blob-store.ts";
import { capabilitiesOfMask } from "../../plugins/container/host-capabilities.ts";
import { seccompProfile } from "../../plugins/container/seccomp.ts";
import { runtimeAttributes } from "../../plugins/container/runtime.ts";
import { cleanup, tempDir } from "../helpers/proc.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));
const dir = (p: string) => {
  const d = tempDir(p);
  dirs.push(d);
  return d;
};

const job = (task: string) => `id = "j"\ntype = "batch"\n[[groups]]\nname = "g"\n[[groups.tasks]]\nname = "t"\n${task}\n`;
const parse = (task: string) => parseJobSpec(job(task), "toml");

describe("capability names and sets", () => {
  test("Docker's and Nomad's spellings are one capability; unknown names are not", () => {
    expect(canonicalCapability("net_admin")).toBe("CAP_NET_ADMIN");
    expect(canonicalCapability("NET_ADMIN")).toBe("CAP_NET_ADMIN");
    expect(canonicalCapability("cap_net_admin")).toBe("CAP_NET_ADMIN");
    expect(canonicalCapability("all")).toBe("ALL");
    expect(canonicalCapability("net_admn")).toBeUndefined();
    expect(canonicalCapability("CAP_")).toBeUndefined();
  });

  test("a task's set: the default, minus cap_drop, plus cap_add; checked against an allowed set", () => {
    expect(effectiveCapabilities()).toEqual(DEFAULT_CAPABILITIES);
    const s = effectiveCapabilities(["net_admin"], ["chown"]);
    expect(s).toContain("CAP_NET_ADMIN");
    expect(s).not.toContain("CAP_CHOWN");
    expect(effectiveCapabilities(["kill"], ["all"])).toEqual(["CAP_KILL"]);
    expect(capabilitiesNotAllowed(s, DEFAULT_CAPABILITIES)).toEqual(["CAP_NET_ADMIN"]);
    expect(capabilitiesNotAllowed(effectiveCapabilities([], ["all"]), [])).toEqual([]);
    expect(capabilitiesOfMask("1fffffffff").length).toBe(37);
    expect(capabilitiesOfMask("1")).toEqual(["CAP_CHOWN"]);
    expect(LINUX_CAPABILITIES.indexOf("CAP_NET_ADMIN")).toBe(12);
    expect(LINUX_CAPABILITIES.indexOf("CAP_CHECKPOINT_RESTORE")).toBe(40);
  });
});

describe("privileged, cap_add and cap_drop in a job", () => {
  test("normalized into task.container with canonical names; a job without them keeps its spec", () => {
    const r = parse(`driver = "container"\nimage = "app"\ncap_add = ["net_admin", "SYS_TIME"]\ncap_drop = ["chown"]`);
    if (!r.ok) throw new Error(JSON.stringify(r));
    expect(r.job.groups[0]!.tasks[0]!.container).toEqual({ image: "app", readonlyRootfs: false, capAdd: ["CAP_NET_ADMIN", "CAP_SYS_TIME"], capDrop: ["CAP_CHOWN"] });
    const p = parse(`driver = "container"\nimage = "app"\nprivileged = true`);
    if (!p.ok) throw new Error(JSON.stringify(p));
    expect(p.job.groups[0]!.tasks[0]!.container).toEqual({ image: "app", readonlyRootfs: false, privileged: true });
    const plain = parse(`driver = "container"\nimage = "app"\nprivileged = false`);
    if (!plain.ok) throw new Error(JSON.stringify(plain));
    expect(plain.job.groups[0]!.tasks[0]!.container).toEqual({ image: "app", readonlyRootfs: false });
  });

  test("refusals name the key and why", () => {
    const errs = (t: string) => {
      const r = parse(t);
      return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
    };
    expect(errs(`driver = "container"\nimage = "app"\ncap_add = ["net_admn"]`).join("\n")).toContain(`cap_add[0]: unknown capability "net_admn"`);
    expect(errs(`driver = "container"\nimage = "app"\nprivileged = true\ncap_add = ["net_admin"]`).join("\n")).toContain("cap_add has no meaning with privileged = true");
    expect(errs(`command = "/bin/true"\nprivileged = true`).join("\n")).toContain("privileged is for the container driver");
    expect(errs(`command = "/bin/true"\ncap_drop = ["all"]`).join("\n")).toContain("cap_drop is for the container driver");
  });

  test("stored as they are by the raft command (no field dropped), in an entry an older node will not apply", () => {
    const r = parse(`driver = "container"\nimage = "app"\ncap_add = ["net_admin"]\ncap_drop = ["all"]`);
    if (!r.ok) throw new Error(JSON.stringify(r));
    const stored = JobSchema.parse(JSON.parse(JSON.stringify(r.job)));
    expect(stored.groups[0]!.tasks[0]!.container).toEqual(r.job.groups[0]!.tasks[0]!.container!);
    expect(registerJobExtras({ job: r.job }).v).toBe(2);
    const plain = parse(`driver = "container"\nimage = "app"`);
    if (!plain.ok) throw new Error(JSON.stringify(plain));
    expect(registerJobExtras({ job: plain.job }).v).toBe(1);
  });
});

describe("placement by the node's container_allow_privileged / container_allow_caps", () => {
  const failing = (task: string, attributes: Record<string, string>) => {
    const r = parse(task);
    if (!r.ok) throw new Error(JSON.stringify(r));
    const ask = compileAsk(r.job, r.job.groups[0]!);
    const node = { attributes: { "driver.container.runtime": "runc", ...attributes } } as any;
    return ask.constraints.filter((c) => !c.test(node)).map((c) => c.text);
  };
  const defaults = runtimeAttributes({ path: "/usr/sbin/runc", name: "runc", version: "1.1" }, true, { allowPrivileged: false, allowCaps: ["chown", "dac_override", "fsetid", "fowner", "setgid", "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write"] });
  const open = runtimeAttributes({ path: "/usr/sbin/runc", name: "runc", version: "1.1" }, true, { allowPrivileged: true, allowCaps: ["all"] });

  test("the fingerprint: privileged only when allowed; the allowed capabilities, Nomad's spelling", () => {
    expect(defaults["driver.container.privileged"]).toBeUndefined();
    expect(defaults["driver.container.caps"]).toBe("chown,dac_override,fsetid,fowner,setgid,setuid,setfcap,setpcap,net_bind_service,sys_chroot,kill,audit_write");
    expect(open["driver.container.privileged"]).toBe("true");
    expect(open["driver.container.caps"]!.split(",").length).toBe(LINUX_CAPABILITIES.length);
    expect(runtimeAttributes({ error: "none" }, true, { allowPrivileged: true, allowCaps: ["all"] })).toEqual({});
  });

  test("a privileged task or an added capability is placed only where allowed; the reason says which key", () => {
    expect(failing(`driver = "container"\nimage = "app"`, defaults)).toEqual([]);
    expect(failing(`driver = "container"\nimage = "app"\nprivileged = true`, defaults)).toEqual([
      `driver: task "t" is privileged: the node's agent must set [plugins.exec] container_allow_privileged = true`,
    ]);
    expect(failing(`driver = "container"\nimage = "app"\nprivileged = true`, open)).toEqual([]);
    const caps = failing(`driver = "container"\nimage = "app"\ncap_add = ["net_admin"]`, defaults);
    expect(caps.length).toBe(1);
    expect(caps[0]).toContain("net_admin");
    expect(caps[0]).toContain("container_allow_caps");
    expect(failing(`driver = "container"\nimage = "app"\ncap_add = ["net_admin"]`, open)).toEqual([]);
    // Dropping only narrows: fine on a default node; a node that narrowed its list needs the task to drop as much.
    expect(failing(`driver = "container"\nimage = "app"\ncap_drop = ["all"]\ncap_add = ["kill"]`, { ...defaults, "driver.container.caps": "kill" })).toEqual([]);
    expect(failing(`driver = "container"\nimage = "app"\ncap_drop = ["chown"]`, { ...defaults, "driver.container.caps": "kill" }).length).toBe(1);
  });
});

describe("the driver's own check (defence in depth) and the bundle", () => {
  const log = { debug() {}, info() {}, warn() {}, error() {} } as any;
  const drv = (over: Record<string, unknown>) => new ContainerDriver({
    dir: join(dir("corral-ctrsec-units-"), "c"), runtime: { path: "/usr/sbin/runc", name: "runc", version: "1" }, auth: {}, insecureRegistries: [], allowedRegistries: [],
    cacheBytes: 1 << 30, imagesBytes: 1 << 30, maxUnpackedBytes: 1 << 30, pullTimeoutMs: 1000, listenHost: "127.0.0.1", log, ...over,
  });

  test("a privileged task or one with capabilities beyond container_allow_caps is refused by the driver, whatever placed it", () => {
    const strict = drv({});
    expect(strict.refusal({ image: "app", readonlyRootfs: false, privileged: true })).toBe("privileged containers are not allowed on this node ([plugins.exec] container_allow_privileged = false)");
    expect(strict.refusal({ image: "app", readonlyRootfs: false, capAdd: ["CAP_SYS_ADMIN"] })).toBe("capabilities sys_admin are not in [plugins.exec] container_allow_caps of this node");
    expect(strict.refusal({ image: "app", readonlyRootfs: false, capDrop: ["ALL"] })).toBeUndefined();
    const open = drv({ allowPrivileged: true, allowCaps: ["all"] });
    expect(open.refusal({ image: "app", readonlyRootfs: false, privileged: true })).toBeUndefined();
    expect(open.refusal({ image: "app", readonlyRootfs: false, capAdd: ["CAP_SYS_ADMIN"] })).toBeUndefined();
  });

  test("privileged: every given capability, no seccomp, no masked paths, devices allowed and created, writable /sys, no no_new_privileges", () => {
    const base = { argv: ["/x"], env: [], cwd: "/", hostname: "h", readonlyRootfs: false, taskDir: "/t", memoryBytes: 64 << 20, cpuMhz: 500, cgroupsPath: "/corral/a.t/ctr", hostFiles: {}, network: "host" as const, user: { uid: 0, gid: 0, additionalGids: [] } };
    const dev = { path: "/dev/loop0", type: "b" as const, major: 7, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
    const p = bundleConfig({ ...base, security: { privileged: true, capabilities: [...LINUX_CAPABILITIES], devices: [dev] } }) as any;
    expect(p.process.capabilities.effective).toEqual([...LINUX_CAPABILITIES]);
    expect(p.process.capabilities.bounding).toEqual([...LINUX_CAPABILITIES]);
    expect(p.process.noNewPrivileges).toBe(false);
    expect(p.linux.seccomp).toBeUndefined();
    expect(p.linux.maskedPaths).toBeUndefined();
    expect(p.linux.resources.devices).toEqual([{ allow: true, access: "rwm" }]);
    expect(p.linux.devices).toEqual([dev]);
    expect(p.mounts.find((m: any) => m.destination === "/sys").options).toContain("rw");
    const c = bundleConfig({ ...base, security: { privileged: false, capabilities: effectiveCapabilities(["net_admin"], ["chown"]), devices: [] } }) as any;
    expect(c.process.capabilities.effective).toContain("CAP_NET_ADMIN");
    expect(c.process.capabilities.bounding).not.toContain("CAP_CHOWN");
    expect(c.process.noNewPrivileges).toBe(true);
    expect(c.linux.seccomp.syscalls[0].names).toContain("mount");
    expect(c.linux.resources.devices).toEqual([{ allow: false, access: "rwm" }]);
  });
});

describe("the seccomp filter with added capabilities", () => {
  const denied = (caps?: string[]) => (seccompProfile(caps) as any).syscalls.filter((r: any) => !r.args).flatMap((r: any) => r.names);
  const cloneRules = (caps?: string[]) => (seccompProfile(caps) as any).syscalls.filter((r: any) => r.args).length;
  test("the default set opens nothing; an added capability opens only the calls that need it (Docker's profile)", () => {
    expect(denied()).toEqual(denied(effectiveCapabilities()));
    expect(denied()).toContain("clock_settime");
    expect(denied(effectiveCapabilities(["sys_time"]))).not.toContain("clock_settime");
    expect(denied(effectiveCapabilities(["sys_time"]))).toContain("mount");
    expect(cloneRules(effectiveCapabilities(["sys_time"]))).toBe(8);
    const admin = effectiveCapabilities(["sys_admin"]);
    expect(denied(admin)).not.toContain("mount");
    expect(denied(admin)).not.toContain("unshare");
    expect(denied(admin)).not.toContain("clone3");
    expect(cloneRules(admin)).toBe(0);
    expect(denied(admin)).toContain("init_module");
    expect(denied(admin)).toContain("keyctl");
  });
});

describe("[plugins.container]", () => {
  const load = (text: string) => loadConfig({ role: "dev", text, file: "corral.toml", env: {}, builtinPlugins: [] });

  test("is [plugins.exec] container_*: its keys land in the exec plugin's table", () => {
    const c = load(`[plugins.exec]\nkill_timeout = "3s"\n\n[plugins.container]\nallow_privileged = true\nauth = { "reg:5000" = { username = "u", password = "p" } }\n`);
    expect(c.plugins.settings.container).toBeUndefined();
    expect(c.plugins.settings.exec).toEqual({ kill_timeout: "3s", container_allow_privileged: true, container_auth: { "reg:5000": { username: "u", password: "p" } } });
  });

  test("a key given both ways is refused, naming both", () => {
    expect(() => load(`[plugins.exec]\ncontainer_allow_privileged = false\n\n[plugins.container]\nallow_privileged = true\n`))
      .toThrow("[plugins.container] allow_privileged and [plugins.exec] container_allow_privileged are one setting: give it once");
  });
});

describe("the LRU cache folder (blob store, artifact cache)", () => {
  test("trimmed to the size bound least recently used first, past the age bound whatever the size, never what is kept; other files untouched", () => {
    const d = dir("corral-lru-");
    const c = new LruCacheDir(join(d, "c"), { maxBytes: 250, maxAgeMs: 60_000, entryName: /^e\d$/ });
    const now = Date.now();
    for (const [i, age] of [[1, 10_000], [2, 20_000], [3, 30_000], [4, 120_000]] as const) {
      writeFileSync(c.pathOf(`e${i}`), "x".repeat(100));
      utimesSync(c.pathOf(`e${i}`), (now - age) / 1000, (now - age) / 1000);
    }
    writeFileSync(c.pathOf(".tmp-1"), "x".repeat(1000));
    // e4: past the age bound; then 300 > 250: the least recently used of the rest (e3) goes.
    expect(c.trim(() => false, now).sort()).toEqual(["e3", "e4"]);
    expect(readdirSync(c.dir).sort()).toEqual([".tmp-1", "e1", "e2"]);
    // A hit makes an entry the newest; what `keep` names stays even when over the bound.
    expect(c.lookup("e2")).toBe(c.pathOf("e2"));
    const tight = new LruCacheDir(c.dir, { maxBytes: 0, entryName: /^e\d$/ });
    expect(tight.trim((n) => n === "e1")).toEqual(["e2"]);
  });

  test("the blob store ages out blobs unused for container_cache_max_age, never the image being started", () => {
    const d = dir("corral-blobs-");
    const store = new BlobStore(d, 1 << 30, 60_000);
    const old = `sha256:${"a".repeat(64)}`;
    const inUse = `sha256:${"b".repeat(64)}`;
    for (const dg of [old, inUse]) {
      writeFileSync(store.pathOf(dg), "blob");
      utimesSync(store.pathOf(dg), (Date.now() - 3_600_000) / 1000, (Date.now() - 3_600_000) / 1000);
    }
    expect(store.trim(new Set([inUse]))).toEqual([old]);
    expect(store.lookup(old)).toBeUndefined();
    expect(store.lookup(inUse)).toBe(store.pathOf(inUse));
  });
});
