// The container driver's pure parts and its allow-list: the bundle it
// writes (argv, env, user, hardening), and registries refused by
// container_allowed_registries before anything is fetched.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ContainerDriver } from "../../plugins/container/driver.ts";
import { bundleConfig, containerArgv, containerEnv, resolveUser } from "../../plugins/container/bundle.ts";
import type { ImageRunConfig } from "../../plugins/container/manifest.ts";
import { cleanup, tempDir } from "../helpers/proc.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));
const image = (over: Partial<ImageRunConfig> = {}): ImageRunConfig => ({ user: "", env: [], entrypoint: [], cmd: [], workingDir: "/", stopSignal: "SIGTERM", diffIds: [], os: "linux", architecture: "amd64", ...over });
const spec = { image: "x", readonlyRootfs: false };

describe("what a container runs", () => {
  test("argv: Docker's rule for entrypoint, command, args and Cmd", () => {
    const img = image({ entrypoint: ["/ep"], cmd: ["default"] });
    expect(containerArgv(img, spec, "", [])).toEqual(["/ep", "default"]);
    expect(containerArgv(img, spec, "", ["a", "b"])).toEqual(["/ep", "a", "b"]);
    expect(containerArgv(img, spec, "/bin/x", ["a"])).toEqual(["/ep", "/bin/x", "a"]);
    expect(containerArgv(img, { ...spec, entrypoint: [] }, "", [])).toEqual(["default"]);
    expect(() => containerArgv(image(), spec, "", [])).toThrow("nothing to run");
  });

  test("env: the task's over the image's; PATH as Docker's when neither sets it", () => {
    expect(containerEnv(image({ env: ["A=1", "B=x=y"] }), { A: "2" })).toEqual(["A=2", "B=x=y", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
  });

  test("user: by the image's own passwd and group, never the host's", () => {
    const passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
    const group = "root:x:0:\napp:x:1000:\nextra:x:2000:app\n";
    expect(resolveUser("", passwd, group)).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    expect(resolveUser("app", passwd, group)).toEqual({ uid: 1000, gid: 1000, additionalGids: [2000] });
    expect(resolveUser("1000:extra", passwd, group)).toEqual({ uid: 1000, gid: 2000, additionalGids: [2000] });
    expect(resolveUser("4242", passwd, group)).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
    expect(() => resolveUser("ghost", passwd, group)).toThrow(`user "ghost" is not in the image's /etc/passwd`);
  });

  test("the bundle: no new privileges, default capabilities (none for a non-root user), seccomp, limits", () => {
    const base = { argv: ["/x"], env: [], cwd: "/", hostname: "h", readonlyRootfs: true, taskDir: "/t", memoryBytes: 64 << 20, cpuMhz: 500, cgroupsPath: "/corral/a.t/ctr", hostFiles: {}, network: "host" as const };
    const root = bundleConfig({ ...base, user: { uid: 0, gid: 0, additionalGids: [] } }) as any;
    expect(root.process.noNewPrivileges).toBe(true);
    expect(root.process.capabilities.effective).not.toContain("CAP_SYS_ADMIN");
    expect(root.process.capabilities.effective).not.toContain("CAP_NET_RAW");
    expect(root.root).toEqual({ path: "rootfs", readonly: true });
    expect(root.linux.resources.memory).toEqual({ limit: 64 << 20, swap: 64 << 20 });
    expect(root.linux.resources.cpu.shares).toBe(512);
    expect(root.linux.seccomp.syscalls[0].names).toContain("unshare");
    expect(root.linux.namespaces.map((n: any) => n.type)).not.toContain("user");
    const app = bundleConfig({ ...base, user: { uid: 1000, gid: 1000, additionalGids: [] } }) as any;
    expect(app.process.capabilities.effective).toEqual([]);
    expect(app.process.capabilities.permitted).toEqual([]);
  });

  test("the bundle's network: the allocation's namespace by path, a new one for none, the host's for host", () => {
    const base = { argv: ["/x"], env: [], cwd: "/", hostname: "h", readonlyRootfs: true, taskDir: "/t", memoryBytes: 64 << 20, cpuMhz: 500, cgroupsPath: "/corral/a.t/ctr", hostFiles: {}, user: { uid: 0, gid: 0, additionalGids: [] } };
    const net = (n: any) => (bundleConfig({ ...base, network: n }) as any).linux.namespaces.filter((x: any) => x.type === "network");
    expect(net({ path: "/run/netns/corral-a" })).toEqual([{ type: "network", path: "/run/netns/corral-a" }]);
    expect(net("none")).toEqual([{ type: "network" }]);
    expect(net("host")).toEqual([]);
  });
});

describe("container_allowed_registries", () => {
  test("an image from another registry is refused by name; an empty list allows any", () => {
    const dir = tempDir("corral-ctr-units-");
    dirs.push(dir);
    const log = { debug() {}, info() {}, warn() {}, error() {} } as any;
    const opts = { dir: join(dir, "c"), runtime: { path: "/usr/sbin/runc", name: "runc", version: "1" }, auth: {}, insecureRegistries: [], cacheBytes: 1 << 30, imagesBytes: 1 << 30, maxUnpackedBytes: 1 << 30, pullTimeoutMs: 1000, listenHost: "127.0.0.1", log };
    const only = new ContainerDriver({ ...opts, allowedRegistries: ["reg.example.com:5000"] });
    expect(only.refusal({ image: "reg.example.com:5000/app:1", readonlyRootfs: false })).toBeUndefined();
    expect(only.refusal({ image: "evil.example.com/app:1", readonlyRootfs: false })).toBe("image evil.example.com/app:1: registry evil.example.com is not in [plugins.exec] container_allowed_registries");
    expect(only.refusal({ image: "busybox", readonlyRootfs: false })).toContain("registry registry-1.docker.io is not in");
    const any = new ContainerDriver({ ...opts, allowedRegistries: [] });
    expect(any.refusal({ image: "evil.example.com/app:1", readonlyRootfs: false })).toBeUndefined();
  });
});
