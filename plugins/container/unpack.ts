// Applying image layers, in order, to a root file system, as root, the way
// the OCI image spec describes changesets:
//   - ".wh.<name>" removes <name> of the lower layers; ".wh..wh..opq"
//     empties its folder of everything the lower layers put there (what this
//     layer itself writes there stays, whatever the order in the tar);
//   - entry names that are absolute or contain ".." are refused;
//   - nothing is written through a symbolic link: every folder on the way
//     to an entry is checked with lstat (a layer that planted "etc -> /etc"
//     cannot make a later entry "etc/passwd" land on the host). Symbolic
//     links themselves may point anywhere (they resolve inside the
//     container, and are never followed here);
//   - hard links only to a regular file already in this root, reached
//     through real folders;
//   - device files and FIFOs are skipped (the runtime makes /dev);
//   - owners and modes (setuid included: no_new_privileges holds it in
//     check in the container) are kept, as the image means them;
//   - each layer's uncompressed bytes must hash to the config's diff_id;
//   - the total is bounded (max_unpacked_bytes), against layer bombs.
// Pure of network; reads the verified blobs of the store.
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, fchownSync, fchmodSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, writeSync, chmodSync, chownSync } from "node:fs";
import { join } from "node:path";
import { Transform } from "node:stream";
import { finished } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** A layer path as safe components, or an Error. */
export function layerPath(name: string): string[] {
  if (name.includes("\0")) throw new Error(`layer entry ${JSON.stringify(name)}: NUL in the name`);
  const trimmed = name.replace(/^\.\//, "");
  if (trimmed.startsWith("/")) throw new Error(`layer entry ${JSON.stringify(name)}: absolute path refused`);
  const parts = trimmed.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`layer entry ${JSON.stringify(name)} escapes the root ("..")`);
  return parts;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

export interface UnpackBudget {
  /** Bytes of file content still allowed across every layer of the image. */
  remaining: number;
}

/** One layer applied on top of `root`. */
class LayerWriter {
  /** Relative paths this layer wrote: an opaque folder keeps them. */
  private written = new Set<string>();
  private opaque: string[] = [];

  constructor(private root: string, private budget: UnpackBudget) {}

  /** The folder for parts[0..n-1], created as needed; every step must be a real folder. */
  private folder(parts: readonly string[], name: string): string {
    let dir = this.root;
    for (const part of parts) {
      dir = join(dir, part);
      const st = lstatOrUndefined(dir);
      if (!st) {
        mkdirSync(dir);
        chmodSync(dir, 0o755); // not the agent's umask (077): the image's users must traverse it
      }
      else if (!st.isDirectory()) throw new Error(`layer entry ${JSON.stringify(name)}: ${parts.join("/")} passes through ${st.isSymbolicLink() ? "a symbolic link" : "a file"}; refusing to write through it`);
    }
    return dir;
  }

  /** Clears `path` for a new entry; a folder stays only when a folder replaces it. */
  private clear(path: string, keepFolder: boolean): void {
    const st = lstatOrUndefined(path);
    if (!st) return;
    if (st.isDirectory() && keepFolder) return;
    rmSync(path, { recursive: true, force: true });
  }

  private mark(parts: readonly string[]): void {
    for (let i = 1; i <= parts.length; i++) this.written.add(parts.slice(0, i).join("/"));
  }

  async entry(h: { name: string; type?: string | null; mode?: number; uid?: number; gid?: number; linkname?: string | null }, body: AsyncIterable<Uint8Array>): Promise<boolean> {
    const parts = layerPath(h.name);
    if (parts.length === 0) {
      if (h.type === "directory") this.mark([]);
      return false; // "./" itself
    }
    const base = parts.at(-1)!;
    const dir = this.folder(parts.slice(0, -1), h.name);
    if (base === OPAQUE) {
      this.opaque.push(parts.slice(0, -1).join("/"));
      return false;
    }
    if (base.startsWith(WHITEOUT)) {
      const gone = base.slice(WHITEOUT.length);
      if (gone === "" || gone === "." || gone === "..") throw new Error(`layer entry ${JSON.stringify(h.name)}: malformed whiteout`);
      rmSync(join(dir, gone), { recursive: true, force: true });
      return false;
    }
    const path = join(dir, base);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    switch (h.type) {
      case "file":
      case "contiguous-file": {
        this.clear(path, false);
        const fd = openSync(path, "wx", 0o600);
        try {
          for await (const c of body) {
            this.budget.remaining -= c.byteLength;
            if (this.budget.remaining < 0) throw new Error("the image unpacks to more than max_unpacked_bytes");
            writeSync(fd, c);
          }
          fchownSync(fd, uid, gid);
          fchmodSync(fd, mode); // after chown, which clears setuid bits
        } finally {
          closeSync(fd);
        }
        break;
      }
      case "directory":
        this.clear(path, true);
        if (!existsSync(path)) mkdirSync(path);
        chownSync(path, uid, gid);
        chmodSync(path, mode);
        break;
      case "symlink":
        this.clear(path, false);
        symlinkSync(h.linkname ?? "", path);
        lchownSync(path, uid, gid);
        break;
      case "link": {
        const target = layerPath(h.linkname ?? "");
        if (target.length === 0) throw new Error(`layer entry ${JSON.stringify(h.name)}: hard link to nothing`);
        const from = join(this.folder(target.slice(0, -1), h.name), target.at(-1)!);
        if (!lstatOrUndefined(from)?.isFile()) throw new Error(`layer entry ${JSON.stringify(h.name)}: hard link to ${JSON.stringify(h.linkname)}, which is not a regular file of the image`);
        this.clear(path, false);
        linkSync(from, path);
        break;
      }
      case "character-device":
      case "block-device":
      case "fifo":
        return false; // the runtime provides /dev; a device file in an image is not made
      default:
        throw new Error(`layer entry ${JSON.stringify(h.name)}: ${h.type ?? "unknown"} entries are not supported`);
    }
    this.mark(parts);
    return true;
  }

  /** Opaque folders, once the whole layer is read: drop what lower layers put there. */
  finish(): void {
    for (const rel of this.opaque) this.prune(rel);
  }

  private prune(rel: string): void {
    const dir = rel === "" ? this.root : join(this.root, rel);
    if (!lstatOrUndefined(dir)?.isDirectory()) return;
    for (const name of readdirSync(dir)) {
      const child = rel === "" ? name : `${rel}/${name}`;
      if (!this.written.has(child)) rmSync(join(dir, name), { recursive: true, force: true });
      else if (lstatOrUndefined(join(dir, name))?.isDirectory()) this.prune(child);
    }
  }
}

/**
 * Applies the layer blob at `file` to `root`. `diffId` (the config's
 * rootfs.diff_ids entry) is checked against the uncompressed bytes; a
 * mismatch fails the whole unpack.
 */
export async function applyLayer(root: string, file: string, gzip: boolean, diffId: string | undefined, budget: UnpackBudget): Promise<void> {
  const writer = new LayerWriter(root, budget);
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const ex = extract();
  const input = createReadStream(file);
  const gunzip = gzip ? createGunzip() : undefined;
  for (const s of [input, gunzip, tap]) s?.on("error", (err: Error) => ex.destroy(err));
  (gunzip ? input.pipe(gunzip) : input).pipe(tap).pipe(ex);
  try {
    for await (const entry of ex) {
      const used = await writer.entry(entry.header, entry as AsyncIterable<Uint8Array>);
      if (!used || entry.header.type !== "file") entry.resume();
    }
    // The extract ends once all its input was written: every byte of the layer has passed the hash.
    await finished(tap);
  } finally {
    input.destroy();
  }
  writer.finish();
  const actual = `sha256:${hash.digest("hex")}`;
  if (diffId && actual !== diffId) throw new Error(`layer ${file}: uncompressed content hashes to ${actual}, the image config says ${diffId}; refused`);
}
