// One root file system per image on the node, unpacked once from the
// store's layers and shared read-only by every allocation of that image
// (<data_dir>/container/images/<config digest hex>/rootfs). The config
// digest names it: the config lists each layer's diff_id, which unpack.ts
// checks. Built under a temporary name and renamed when complete, so a
// crash mid-unpack leaves no half image behind to be reused. Snapshots are
// trimmed to a size bound, least recently used first, never one a running
// task's overlay is built on (trim).
//
// Each allocation gets its own writable view (rootfsFor): an overlayfs
// mount with the snapshot as its lower layer and the allocation's own upper
// folder, where the kernel allows it; otherwise a full copy (cp -a) of the
// snapshot. Never hard links: a task writing into a file in place would
// change the shared snapshot.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BlobStore } from "./blob-store.ts";
import type { PulledImage } from "./registry.ts";
import { applyLayer } from "./unpack.ts";

export class ImageSnapshots {
  private building = new Map<string, Promise<string>>();

  constructor(readonly dir: string, private store: BlobStore, private maxUnpackedBytes: number) {}

  pathOf(configDigest: string): string {
    return join(this.dir, configDigest.slice("sha256:".length), "rootfs");
  }

  /** The image's rootfs, unpacked now unless already there (concurrent callers share one unpack). */
  rootfs(image: PulledImage): Promise<string> {
    const path = this.pathOf(image.configDigest);
    if (existsSync(path)) {
      const now = new Date();
      utimesSync(dirname(path), now, now); // used: the last to go when the snapshots are trimmed
      return Promise.resolve(path);
    }
    let p = this.building.get(image.configDigest);
    if (!p) {
      p = this.build(image).finally(() => this.building.delete(image.configDigest));
      this.building.set(image.configDigest, p);
    }
    return p;
  }

  private async build(image: PulledImage): Promise<string> {
    if (image.config.diffIds.length && image.config.diffIds.length !== image.layers.length) {
      throw new Error(`the image config lists ${image.config.diffIds.length} layers, the manifest ${image.layers.length}; refused`);
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const root = join(tmp, "rootfs");
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o755); // the container's "/": not the agent's umask (077)
    try {
      const budget = { remaining: this.maxUnpackedBytes };
      for (const [i, layer] of image.layers.entries()) {
        const blob = this.store.lookup(layer.digest);
        if (!blob) throw new Error(`layer ${layer.digest} is not in the store (pull first)`);
        await applyLayer(root, blob, layer.gzip, image.config.diffIds[i], budget);
      }
      writeFileSync(join(tmp, "size"), String(this.maxUnpackedBytes - budget.remaining));
      const final = join(this.dir, image.configDigest.slice("sha256:".length));
      if (existsSync(final)) rmSync(tmp, { recursive: true, force: true });
      else renameSync(tmp, final);
      return join(final, "rootfs");
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Removes least recently used snapshots until their total (file bytes, as
   * unpacked) is at most `maxBytes`. Never one a task's overlay still has
   * as its lower layer (read from the mount table, so tasks of an earlier
   * agent count), nor one being unpacked. Returns the digests removed.
   */
  trim(maxBytes: number, mounts = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
    if (!existsSync(this.dir)) return [];
    const entries = readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((n) => {
        const dir = join(this.dir, n);
        let size = 0;
        try {
          size = Number(readFileSync(join(dir, "size"), "utf8")) || 0;
        } catch {}
        return { n, dir, size, used: statSync(dir).mtimeMs };
      })
      .sort((a, b) => a.used - b.used);
    let total = entries.reduce((t, e) => t + e.size, 0);
    const removed: string[] = [];
    for (const e of entries) {
      if (total <= maxBytes) break;
      if (mounts.includes(`lowerdir=${join(e.dir, "rootfs")}`) || this.building.has(`sha256:${e.n}`)) continue;
      rmSync(e.dir, { recursive: true, force: true });
      total -= e.size;
      removed.push(`sha256:${e.n}`);
    }
    return removed;
  }

  /** Leftovers of unpacks a crash interrupted. */
  sweep(): void {
    if (!existsSync(this.dir)) return;
    for (const n of readdirSync(this.dir)) if (n.startsWith(".tmp-")) rmSync(join(this.dir, n), { recursive: true, force: true });
  }
}

export type RootfsMode = "overlay" | "copy";

/**
 * A writable root for one task at `dir`/rootfs over `snapshot`: overlayfs
 * (upper and work folders next to it) or, where mounting fails, a copy.
 * Idempotent: an existing mount or copy is reused (an agent restart).
 */
export function rootfsFor(snapshot: string, dir: string, allowOverlay = true): { path: string; mode: RootfsMode } {
  const path = join(dir, "rootfs");
  if (isMountPoint(path)) return { path, mode: "overlay" };
  if (existsSync(join(dir, "rootfs.copied"))) return { path, mode: "copy" };
  mkdirSync(path, { recursive: true, mode: 0o755 });
  if (allowOverlay) {
    const upper = join(dir, "upper");
    const work = join(dir, "work");
    mkdirSync(upper, { recursive: true });
    chmodSync(upper, 0o755); // the overlay's "/" takes the upper folder's mode
    mkdirSync(work, { recursive: true, mode: 0o700 });
    const r = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${snapshot},upperdir=${upper},workdir=${work}`, path], { encoding: "utf8" });
    if (r.status === 0) return { path, mode: "overlay" };
  }
  rmSync(path, { recursive: true, force: true });
  const r = spawnSync("cp", ["-a", "--", snapshot, path], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`copying the image's root file system: ${r.stderr || r.error}`);
  mkdirSync(join(dir, "rootfs.copied"));
  return { path, mode: "copy" };
}

/** Unmounts (overlay) and removes a task's root. */
export function releaseRootfs(dir: string): void {
  const path = join(dir, "rootfs");
  if (isMountPoint(path)) spawnSync("umount", ["-l", path]);
  for (const n of ["rootfs", "upper", "work", "rootfs.copied"]) rmSync(join(dir, n), { recursive: true, force: true });
}

/**
 * Whether `path` is a mount point, from the mount table: this runs on every
 * start (rootfsFor) and release, and spawning mountpoint(1) for it cost a
 * synchronous process (5–50 ms on a busy node, bench/container.ts) where
 * reading /proc costs well under one.
 */
export function isMountPoint(path: string): boolean {
  if (!existsSync(path)) return false;
  let table: string;
  try {
    table = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return spawnSync("mountpoint", ["-q", path]).status === 0;
  }
  const want = realpathSync(path); // the table names real paths
  // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return table.split("\n").some((line) => unescape(line.split(" ")[4] ?? "") === want);
}
