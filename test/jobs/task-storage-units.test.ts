// The parts under artifacts and host volumes, on real sockets and real
// mounts: download() against a local HTTP server (redirects checked against
// the scheme and the allow-list, size and time bounds, nothing unverified
// left behind), volumeBinds() (pure), and removeAllocDir() never deleting a
// host folder through a bind mount still inside an allocation folder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/proc.ts";
import { download, hostAllowed, hostPatterns } from "../../plugins/exec/artifact-fetch.ts";
import { mountsUnder, removeAllocDir, volumeBinds } from "../../plugins/exec/volumes.ts";
import { hostVolumeChecks } from "../../core/scheduler/host-volumes.ts";
import { ArtifactCache } from "../../plugins/exec/artifact-cache.ts";
import { utimesSync } from "node:fs";
import { registerJobExtras } from "../../core/state/domains/jobs-commands.ts";
import { parseJobSpec } from "../../core/scheduler/index.ts";

let server: ReturnType<typeof Bun.serve>;
let base: string;
const dir = tempDir("corral-dl-");
const limits = { maxBytes: 1024, timeoutMs: 5000, allowedHosts: [] as string[] };

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      if (u.pathname === "/small") return new Response("hello");
      if (u.pathname === "/big") return new Response("x".repeat(4096));
      if (u.pathname === "/to-file") return new Response(null, { status: 302, headers: { location: "file:///etc/passwd" } });
      if (u.pathname === "/to-other") return new Response(null, { status: 302, headers: { location: "http://localhost:" + u.port + "/small" } });
      if (u.pathname === "/slow") {
        await Bun.sleep(3000);
        return new Response("late");
      }
      if (u.pathname === "/auth") return new Response(req.headers.get("authorization") ?? "" + (req.headers.get("x-corral-token") ?? ""));
      return new Response("no", { status: 404 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => server.stop(true));

describe("download", () => {
  test("fetches, verifies and sends nothing of the agent's", async () => {
    const to = join(dir, "small");
    await download(`${base}/small`, to, { algo: "sha256", hex: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" }, limits);
    expect(await Bun.file(to).text()).toBe("hello");
    const auth = join(dir, "auth");
    await download(`${base}/auth`, auth, undefined, limits);
    expect(await Bun.file(auth).text()).toBe("");
  });

  test("a checksum mismatch leaves nothing behind", async () => {
    const to = join(dir, "bad");
    await expect(download(`${base}/small`, to, { algo: "sha256", hex: "0".repeat(64) }, limits)).rejects.toThrow(/checksum mismatch: expected sha256:0{64}, got sha256:2cf24dba/);
    expect(readdirSync(dir).filter((n) => n.startsWith("bad"))).toEqual([]);
  });

  test("bounded in size and time; 404 named", async () => {
    await expect(download(`${base}/big`, join(dir, "big"), undefined, limits)).rejects.toThrow(/artifact_max_bytes \(1024\)/);
    await expect(download(`${base}/slow`, join(dir, "slow"), undefined, { ...limits, timeoutMs: 500 })).rejects.toThrow(/timed out after 500 ms/);
    await expect(download(`${base}/missing`, join(dir, "missing"), undefined, limits)).rejects.toThrow(/HTTP 404/);
    expect(existsSync(join(dir, "big"))).toBe(false);
  });

  test("redirects are checked like the first URL: scheme and allow-list", async () => {
    await expect(download(`${base}/to-file`, join(dir, "f"), undefined, limits)).rejects.toThrow("redirected to file:///etc/passwd: scheme file: not allowed (http and https only)");
    const only = { ...limits, allowedHosts: hostPatterns("127.0.0.1")! };
    await download(`${base}/small`, join(dir, "ok"), undefined, only);
    await expect(download(`${base}/to-other`, join(dir, "o"), undefined, only)).rejects.toThrow(/redirected to http:\/\/localhost:\d+\/small: host localhost is not in \[plugins.exec\] artifact_allowed_hosts/);
    await expect(download(`http://localhost:${server.port}/small`, join(dir, "o"), undefined, only)).rejects.toThrow(/^host localhost is not in/);
  });

  test("allow-list patterns", () => {
    expect(hostPatterns("")).toEqual([]);
    expect(hostPatterns("a.example.com, *.cdn.example.org")).toEqual(["a.example.com", "*.cdn.example.org"]);
    expect(hostPatterns("http://x")).toBeUndefined();
    expect(hostAllowed("x.cdn.example.org", ["*.cdn.example.org"])).toBe(true);
    expect(hostAllowed("evilcdn.example.org", ["*.cdn.example.org"])).toBe(false);
    expect(hostAllowed("anything", [])).toBe(true);
  });
});

describe("host volumes", () => {
  test("volumeBinds: read-only if the mount, the request or the node's volume says so", () => {
    const group = { volumes: { a: { type: "host" as const, source: "data", readOnly: false }, b: { type: "host" as const, source: "ro", readOnly: false } } };
    const host = { data: { path: "/srv/data", readOnly: false }, ro: { path: "/srv/ro", readOnly: true } };
    const task = { volumeMounts: [{ volume: "a", destination: "data", readOnly: false }, { volume: "a", destination: "view", readOnly: true }, { volume: "b", destination: "x/ro", readOnly: false }] };
    expect(volumeBinds(group, task, "/t", host)).toEqual([
      { source: "/srv/data", target: "/t/data", readOnly: false },
      { source: "/srv/data", target: "/t/view", readOnly: true },
      { source: "/srv/ro", target: "/t/x/ro", readOnly: true },
    ]);
    expect(() => volumeBinds(group, task, "/t", { data: host.data })).toThrow('missing host volume "ro" on this node');
  });

  test("the scheduler's checks name the missing or read-only volume", () => {
    const checks = hostVolumeChecks({ volumes: { a: { type: "host", source: "data", readOnly: false } } });
    const node = (attributes: Record<string, string>) => ({ attributes } as any);
    expect(checks.map((c) => c.text)).toEqual(['missing host volume "data"', 'host volume "data" is read-only']);
    expect(checks.map((c) => c.test(node({})))).toEqual([false, true]);
    expect(checks.map((c) => c.test(node({ "host_volume.data.path": "/x", "host_volume.data.read_only": "true" })))).toEqual([true, false]);
  });

  test("removeAllocDir unmounts before deleting: the host folder's files survive", () => {
    const root = tempDir("corral-vol-gc-");
    const hostDir = join(root, "host");
    const alloc = join(root, "alloc");
    const target = join(alloc, "tasks", "t", "data");
    mkdirSync(hostDir, { recursive: true });
    mkdirSync(target, { recursive: true });
    writeFileSync(join(hostDir, "keep.txt"), "precious");
    execFileSync("mount", ["--bind", hostDir, target]);
    expect(mountsUnder(alloc)).toEqual([target]);
    removeAllocDir(alloc);
    expect(existsSync(alloc)).toBe(false);
    expect(existsSync(join(hostDir, "keep.txt"))).toBe(true);
  });
});

describe("log entries", () => {
  test("a job with artifacts or volumes registers as RegisterJob v2 (the release before them stops instead of dropping them)", () => {
    const parse = (extra: string) => {
      const r = parseJobSpec(`id = "x"\n[[groups]]\nname = "g"\n${extra}[[groups.tasks]]\nname = "t"\ncommand = "/bin/true"\n`, "toml");
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.job;
    };
    expect(registerJobExtras({ job: parse("") }).v).toBe(1);
    expect(registerJobExtras({ job: parse(`[groups.volumes.v]\ntype = "host"\nsource = "data"\n`) }).v).toBe(2);
    const withArtifact = parse("");
    withArtifact.groups[0]!.tasks[0]!.artifacts = [{ source: "https://x/y", destination: "local/", mode: "any" }];
    expect(registerJobExtras({ job: withArtifact }).v).toBe(2);
  });
});

describe("artifact cache", () => {
  test("looked up by checksum; trimmed least recently used first, never the entry just added", () => {
    const cache = new ArtifactCache(join(tempDir("corral-cache-"), "artifacts"), 250);
    const sums = ["a", "b", "c"].map((c) => ({ algo: "sha256" as const, hex: c.repeat(64) }));
    sums.forEach((s, i) => {
      writeFileSync(cache.pathOf(s), "x".repeat(100));
      utimesSync(cache.pathOf(s), 1000 + i, 1000 + i);
    });
    expect(cache.lookup(sums[0]!)).toBe(cache.pathOf(sums[0]!)); // used now: the newest
    cache.trim(cache.pathOf(sums[2]!));
    expect(readdirSync(cache.dir).sort()).toEqual([`sha256-${"a".repeat(64)}`, `sha256-${"c".repeat(64)}`]);
    expect(cache.lookup(sums[1]!)).toBeUndefined();
  });
});
