// Test helpers: OCI images built by the test itself (busybox-static into
// tar layers, written as an OCI image layout), the reference registry
// (Debian's docker-registry) on loopback with a temporary config, and
// skopeo to push the layout there. The pull path under test is corral's own.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { eventually, freePort } from "../helpers/proc.ts";
import { endSlirps } from "./slirp-helpers.ts";

export const BUSYBOX = "/bin/busybox";

/** Why the registry tests cannot run here, or undefined. */
export function registryToolsMissing(): string | undefined {
  for (const tool of ["/usr/bin/docker-registry", "/usr/bin/skopeo"]) if (!existsSync(tool)) return `${tool} is not installed (apt packages docker-registry, skopeo)`;
  if (!existsSync(BUSYBOX)) return `${BUSYBOX} is not installed (apt package busybox-static)`;
  return undefined;
}

export type Entry =
  | { type: "file"; name: string; data: Buffer | string; mode?: number }
  | { type: "directory"; name: string; mode?: number }
  | { type: "symlink"; name: string; linkname: string }
  | { type: "link"; name: string; linkname: string };

/** A tar archive of `entries` (uncompressed), in order. */
export async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on("data", (c: unknown) => void chunks.push(c as Buffer));
    p.on("end", () => resolve());
    p.on("error", reject);
  });
  for (const e of entries) {
    if (e.type === "file") p.entry({ name: e.name, mode: e.mode ?? 0o644, mtime: new Date(0) }, typeof e.data === "string" ? Buffer.from(e.data) : e.data);
    else if (e.type === "directory") p.entry({ name: e.name, type: "directory", mode: e.mode ?? 0o755, mtime: new Date(0) });
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: 0o777, mtime: new Date(0) });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export interface BuiltImage {
  layout: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

/**
 * An OCI image layout at `dir` (tag `tag`) of gzipped `layers` and an image
 * config with `config` (Entrypoint, Cmd, Env …).
 */
export function writeLayout(dir: string, tag: string, layers: Buffer[], config: Record<string, unknown>): BuiltImage {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const put = (b: Buffer | string) => {
    const d = sha(b);
    writeFileSync(join(dir, "blobs", "sha256", d.slice(7)), b);
    return d;
  };
  const gz = layers.map((l) => gzipSync(l));
  const layerDescs = gz.map((g) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: put(g), size: g.length }));
  const cfg = JSON.stringify({ architecture: "amd64", os: "linux", config, rootfs: { type: "layers", diff_ids: layers.map(sha) }, history: [] });
  const configDigest = put(cfg);
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: Buffer.byteLength(cfg) }, layers: layerDescs });
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: manifestDigest, size: Buffer.byteLength(manifest), annotations: { "org.opencontainers.image.ref.name": tag } }] }));
  return { layout: dir, manifestDigest, configDigest, layerDigests: layerDescs.map((l) => l.digest) };
}

export interface Registry {
  host: string; // 127.0.0.1:port
  storage: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** docker-registry on a free loopback port, storing under `dir`; `htpasswd` turns on basic auth. */
export async function startRegistry(dir: string, opts: { htpasswd?: string } = {}): Promise<Registry> {
  const port = await freePort();
  const storage = join(dir, "storage");
  mkdirSync(storage, { recursive: true });
  const auth = opts.htpasswd ? `auth:\n  htpasswd:\n    realm: test\n    path: ${opts.htpasswd}\n` : "";
  const config = join(dir, "config.yml");
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`);
  const proc = spawn("/usr/bin/docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr!.on("data", (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const host = `127.0.0.1:${port}`;
  await eventually(async () => {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${log}`);
    return fetch(`http://${host}/v2/`).then((r) => r.status === 200 || r.status === 401, () => false);
  }, 20_000);
  return {
    host, storage, proc,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
    },
  };
}

/** Pushes the layout's `tag` to `registry/repo:tag` with skopeo (plain http). */
export function push(layout: string, tag: string, target: string, creds?: string): void {
  const args = ["copy", "--quiet", "--dest-tls-verify=false", ...(creds ? ["--dest-creds", creds] : []), `oci:${layout}:${tag}`, `docker://${target}`];
  const r = spawnSync("/usr/bin/skopeo", args, { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(" ")}: ${r.stderr || r.error}`);
}

/** Where the registry's filesystem driver keeps the bytes of `digest`. */
export function registryBlobPath(reg: Registry, digest: string): string {
  const hex = digest.slice(7);
  return join(reg.storage, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
}

/** Why a test running containers on a dev node cannot run here (the registry tools, root, runc), or undefined. */
export function containerTestsMissing(): string | undefined {
  return registryToolsMissing() ?? (process.getuid?.() !== 0 ? "the agent must run as root to run containers" : undefined) ??
    (spawnSync("runc", ["--version"]).status !== 0 ? "runc is not installed (apt package runc)" : undefined);
}

/**
 * Ends what a node's containers left behind once the test killed the node:
 * containers outlive the agent by design, so the ones still in runc's state
 * under its data dir are deleted, the root file systems mounted there
 * unmounted, and the slirp4netns processes its state files name killed.
 */
export function endContainers(dataDir: string): void {
  const state = join(dataDir, "container", "state");
  const list = spawnSync("runc", ["--root", state, "list", "-q"], { encoding: "utf8" });
  for (const id of (list.stdout ?? "").split("\n").filter(Boolean)) spawnSync("runc", ["--root", state, "delete", "--force", id]);
  spawnSync("sh", ["-c", `grep ' ${dataDir}' /proc/self/mounts | cut -d' ' -f2 | xargs -r umount -l`]);
  endSlirps(dataDir); // the allocations' route-out helpers outlive the agent too
}

/** A one-group job of one container task (`task` merged into it), with no restarts or reschedules: a test sees each outcome once. */
export function containerJob(id: string, task: Record<string, unknown>, type = "batch", count = 1) {
  return {
    id, type,
    groups: [{
      name: "g", count,
      restart: { attempts: 0, delay: "1s", interval: "10m", mode: "fail" },
      reschedule: { attempts: 0, unlimited: false },
      tasks: [{ name: "t", driver: "container", resources: { cpu: 100, memory: 64 }, ...task }],
    }],
  };
}
