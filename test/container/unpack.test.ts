// Unpacking image layers (plugins/container/unpack.ts, snapshots.ts) as
// root into a real folder: whiteouts, opaque folders, escapes refused,
// diff_ids checked, one snapshot per image, a writable root per task.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BlobStore } from "../../plugins/container/blob-store.ts";
import { applyLayer } from "../../plugins/container/unpack.ts";
import { ImageSnapshots, isMountPoint, releaseRootfs, rootfsFor } from "../../plugins/container/snapshots.ts";
import type { PulledImage } from "../../plugins/container/registry.ts";
import { cleanup, tempDir } from "../helpers/proc.ts";
import { tarOf, type Entry } from "./registry-helpers.ts";

const root = process.getuid?.() === 0;
if (!root) console.log("skipping layer unpack tests: they need root (owners, overlayfs)");
const dirs: string[] = [];
function dir(): string {
  const d = tempDir("corral-unpack-");
  dirs.push(d);
  return d;
}
afterAll(() => {
  // A test that failed half-way may leave a task's overlay mounted: unmount before removing.
  const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "");
  for (const d of dirs) for (const m of mounts.filter((m) => m.startsWith(`${d}/`))) spawnSync("umount", ["-l", m]);
  dirs.forEach(cleanup);
});

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function layerFile(entries: Entry[], gzip = true): Promise<{ file: string; diffId: string }> {
  const tar = await tarOf(entries);
  const file = join(dir(), "layer");
  writeFileSync(file, gzip ? gzipSync(tar) : tar);
  return { file, diffId: sha(tar) };
}

async function apply(rootfs: string, entries: Entry[]): Promise<string | undefined> {
  const l = await layerFile(entries);
  return applyLayer(rootfs, l.file, true, l.diffId, { remaining: 1 << 30 }).then(() => undefined, (e: Error) => e.message);
}

const tree = (d: string, rel = ""): string[] =>
  readdirSync(join(d, rel)).sort().flatMap((n) => {
    const p = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(d, p));
    return st.isDirectory() ? [`${p}/`, ...tree(d, p)] : [st.isSymbolicLink() ? `${p} -> ${readlinkSync(join(d, p))}` : p];
  });

describe.skipIf(!root)("layers", () => {
  test("whiteouts remove lower entries; an opaque folder keeps only what its own layer wrote, whatever the order", async () => {
    const rootfs = join(dir(), "rootfs");
    mkdirSync(rootfs);
    expect(await apply(rootfs, [
      { type: "directory", name: "a" }, { type: "file", name: "a/x", data: "x" }, { type: "file", name: "a/y", data: "y" },
      { type: "directory", name: "b" }, { type: "file", name: "b/old", data: "old" }, { type: "directory", name: "b/sub" }, { type: "file", name: "b/sub/deep", data: "d" },
      { type: "directory", name: "c" }, { type: "file", name: "c/gone", data: "c" },
      { type: "symlink", name: "link", linkname: "/a/y" },
    ])).toBeUndefined();
    expect(await apply(rootfs, [
      { type: "file", name: "a/.wh.x", data: "" },
      { type: "directory", name: "b/sub" }, { type: "file", name: "b/sub/fresh", data: "f" }, // written before the marker …
      { type: "file", name: "b/.wh..wh..opq", data: "" }, // … and kept by it
      { type: "file", name: "b/new", data: "n" },
      { type: "file", name: ".wh.c", data: "" },
      { type: "file", name: "link", data: "now a file" },
    ])).toBeUndefined();
    expect(tree(rootfs)).toEqual(["a/", "a/y", "b/", "b/new", "b/sub/", "b/sub/fresh", "link"]);
    expect(readFileSync(join(rootfs, "link"), "utf8")).toBe("now a file");
  });

  test("entries that escape the root are refused: .., absolute names, writes through a symlink, hard links outside", async () => {
    const base = dir();
    const rootfs = join(base, "rootfs");
    const outside = join(base, "outside");
    mkdirSync(rootfs);
    mkdirSync(outside);
    expect(await apply(rootfs, [{ type: "file", name: "../evil", data: "x" }])).toContain("escapes the root");
    expect(await apply(rootfs, [{ type: "file", name: "a/../../evil", data: "x" }])).toContain("escapes the root");
    expect(await apply(rootfs, [{ type: "file", name: "/abs", data: "x" }])).toContain("absolute path refused");
    // An absolute symlink is fine to have (it resolves inside the container) …
    expect(await apply(rootfs, [{ type: "symlink", name: "etc", linkname: outside }])).toBeUndefined();
    // … but never to write through, in the same layer or a later one.
    expect(await apply(rootfs, [{ type: "file", name: "etc/passwd", data: "root::0:0::/:/bin/sh" }])).toContain("passes through a symbolic link");
    expect(await apply(rootfs, [{ type: "file", name: "etc/.wh.x", data: "" }])).toContain("passes through a symbolic link");
    expect(await apply(rootfs, [{ type: "link", name: "stolen", linkname: "../outside/secret" }])).toContain("escapes the root");
    expect(await apply(rootfs, [{ type: "link", name: "stolen", linkname: "etc/secret" }])).toContain("passes through a symbolic link");
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(base, "evil"))).toBe(false);
  });

  test("a layer whose content does not match the config's diff_id is refused", async () => {
    const rootfs = join(dir(), "rootfs");
    mkdirSync(rootfs);
    const l = await layerFile([{ type: "file", name: "f", data: "x" }]);
    const err = await applyLayer(rootfs, l.file, true, sha(Buffer.from("other")), { remaining: 1 << 30 }).then(() => undefined, (e: Error) => e.message);
    expect(err).toContain("the image config says");
    const ok = await applyLayer(rootfs, (await layerFile([{ type: "file", name: "g", data: "y" }], false)).file, false, undefined, { remaining: 1 << 30 }).then(() => "ok");
    expect(ok).toBe("ok");
  });

  test("the unpacked size is bounded", async () => {
    const rootfs = join(dir(), "rootfs");
    mkdirSync(rootfs);
    const l = await layerFile([{ type: "file", name: "big", data: Buffer.alloc(64 * 1024) }]);
    const err = await applyLayer(rootfs, l.file, true, l.diffId, { remaining: 1000 }).then(() => undefined, (e: Error) => e.message);
    expect(err).toBe("the image unpacks to more than max_unpacked_bytes");
  });
});

describe.skipIf(!root)("snapshots", () => {
  async function image(): Promise<{ store: BlobStore; img: PulledImage; base: string }> {
    const base = dir();
    const store = new BlobStore(base, 1 << 30);
    const layers = [];
    const diffIds = [];
    for (const entries of [[{ type: "file", name: "one", data: "1" }], [{ type: "file", name: "two", data: "2" }]] as Entry[][]) {
      const tar = await tarOf(entries);
      const gz = gzipSync(tar);
      writeFileSync(store.pathOf(sha(gz)), gz);
      layers.push({ digest: sha(gz), size: gz.length, gzip: true });
      diffIds.push(sha(tar));
    }
    const config = { user: "", env: [], entrypoint: [], cmd: [], workingDir: "/", stopSignal: "SIGTERM", diffIds, os: "linux", architecture: "amd64" };
    return { store, base, img: { manifestDigest: `sha256:${"1".repeat(64)}`, configDigest: `sha256:${"2".repeat(64)}`, config, layers } };
  }

  test("one snapshot per image, reused; each task writes into its own root, never the snapshot", async () => {
    const { store, img, base } = await image();
    const snaps = new ImageSnapshots(join(base, "images"), store, 1 << 30);
    const [a, b] = await Promise.all([snaps.rootfs(img), snaps.rootfs(img)]);
    expect(a).toBe(b);
    const ino = statSync(join(a, "one")).ino;
    expect(await snaps.rootfs(img)).toBe(a);
    expect(statSync(join(a, "one")).ino).toBe(ino); // not unpacked again
    expect(readdirSync(join(base, "images"))).toEqual(["2".repeat(64)]);

    for (const overlay of [true, false]) {
      const t1 = join(base, `task1-${overlay}`);
      const t2 = join(base, `task2-${overlay}`);
      const r1 = rootfsFor(a, t1, overlay);
      const r2 = rootfsFor(a, t2, overlay);
      expect(r1.mode).toBe(overlay ? "overlay" : "copy");
      writeFileSync(join(r1.path, "one"), "changed by task 1");
      expect(readFileSync(join(r2.path, "one"), "utf8")).toBe("1");
      expect(readFileSync(join(a, "one"), "utf8")).toBe("1");
      expect(rootfsFor(a, t1, overlay).path).toBe(r1.path); // reused as it is (agent restart)
      expect(readFileSync(join(r1.path, "one"), "utf8")).toBe("changed by task 1");
      releaseRootfs(t1);
      releaseRootfs(t2);
      expect(isMountPoint(r1.path)).toBe(false);
      expect(existsSync(r1.path)).toBe(false);
    }
    expect(readFileSync(join(a, "two"), "utf8")).toBe("2");
  });

  test("trimmed to the bound, least recently used first, never one a task's overlay is built on", async () => {
    const { store, img, base } = await image();
    const snaps = new ImageSnapshots(join(base, "images"), store, 1 << 30);
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const imgs = ["a", "b", "c"].map((c) => ({ ...img, configDigest: digest(c) }));
    const paths: string[] = [];
    for (const i of imgs) {
      paths.push(await snaps.rootfs(i));
      await new Promise((r) => setTimeout(r, 20)); // distinct times of use
    }
    const task = join(base, "task");
    expect(rootfsFor(paths[0]!, task, true).mode).toBe("overlay"); // "a", the oldest, is in use
    await snaps.rootfs(imgs[1]!); // "b" used again: now the newest
    // Each snapshot holds 2 bytes of files: room for two; "a" is the least recently used but in use.
    expect(snaps.trim(4)).toEqual([digest("c")]);
    expect(existsSync(paths[0]!)).toBe(true); // under a mounted overlay: kept over the bound
    expect(existsSync(paths[1]!)).toBe(true);
    releaseRootfs(task);
    expect(snaps.trim(2)).toEqual([digest("a")]);
    expect(readdirSync(join(base, "images"))).toEqual(["b".repeat(64)]);
    expect(snaps.trim(0)).toEqual([digest("b")]);
  });
});
