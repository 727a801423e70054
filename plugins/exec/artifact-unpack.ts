// Unpacking a verified artifact into the task folder, as root, without
// letting the archive (or what the task left in its folder on an earlier
// run) write anywhere else:
//   - entry names that are absolute or contain ".." are refused;
//   - no path component on the way to a write may be a symbolic link or a
//     non-folder (lstat each one): a symlink the archive (or the task)
//     planted cannot be written through;
//   - symlinks are created only when their target stays inside the
//     destination; hard links only to a regular file already unpacked there;
//   - device files and FIFOs are refused; setuid, setgid and sticky bits are
//     dropped (mode & 0o777);
//   - an existing file is unlinked and created anew (O_EXCL), never opened
//     through whatever it is now;
//   - the total unpacked size is bounded (artifact_max_bytes), against
//     archive bombs;
//   - everything written is owned by the task's user.
// Any refusal fails the whole artifact (the task does not start).
import { createReadStream, chmodSync, closeSync, copyFileSync, existsSync, fchownSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { unzipSync } from "fflate";

export type Owner = { uid: number; gid: number } | undefined;
export type ArchiveKind = "tgz" | "tar" | "zip";

/** The archive kind by the URL's path (Nomad's go-getter reads the extension too). */
export function archiveKind(source: string): ArchiveKind | undefined {
  const p = new URL(source).pathname.toLowerCase();
  if (p.endsWith(".tar.gz") || p.endsWith(".tgz")) return "tgz";
  if (p.endsWith(".tar")) return "tar";
  if (p.endsWith(".zip")) return "zip";
  return undefined;
}

/** An archive path as a list of safe components, or an Error saying why not. */
function components(name: string): string[] {
  if (name.startsWith("/") || name.includes("\0")) throw new Error(`archive entry ${JSON.stringify(name)}: absolute path refused`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`archive entry ${JSON.stringify(name)} escapes the destination ("..")`);
  return parts;
}

/** A folder tree rooted at `root` that is written only through real folders. */
export class SafeTree {
  private written = 0;

  constructor(readonly root: string, private owner: Owner, private maxBytes: number) {}

  /** Creates (or checks) every folder from `base` down `parts`: none may be a symlink or a file. */
  static walk(base: string, parts: readonly string[], owner: Owner, what: string): string {
    let dir = base;
    for (const part of parts) {
      dir = join(dir, part);
      if (!existsSync(dir) && !isLink(dir)) {
        mkdirSync(dir, { mode: 0o755 });
        if (owner) lchownSync(dir, owner.uid, owner.gid);
      } else if (!lstatSync(dir).isDirectory()) {
        throw new Error(`${what}: ${relative(base, dir)} is a symbolic link or not a folder; refusing to write through it`);
      }
    }
    return dir;
  }

  private parent(parts: readonly string[], name: string): string {
    return SafeTree.walk(this.root, parts.slice(0, -1), this.owner, `archive entry ${JSON.stringify(name)}`);
  }

  private clear(path: string, name: string): void {
    if (!existsSync(path) && !isLink(path)) return;
    if (lstatSync(path).isDirectory()) throw new Error(`archive entry ${JSON.stringify(name)}: a folder is in the way`);
    rmSync(path, { force: true });
  }

  dir(name: string, mode: number): void {
    const parts = components(name);
    if (parts.length === 0) return;
    const dir = SafeTree.walk(this.root, parts, this.owner, `archive entry ${JSON.stringify(name)}`);
    chmodSync(dir, (mode & 0o777) | 0o700);
  }

  /** A regular file, written chunk by chunk. */
  async file(name: string, mode: number, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const parts = components(name);
    if (parts.length === 0) throw new Error(`archive entry ${JSON.stringify(name)}: no file name`);
    const path = join(this.parent(parts, name), parts.at(-1)!);
    this.clear(path, name);
    const fd = openSync(path, "wx", mode & 0o777);
    try {
      for await (const c of chunks) {
        this.written += c.byteLength;
        if (this.written > this.maxBytes) throw new Error(`unpacks to more than artifact_max_bytes (${this.maxBytes})`);
        writeSync(fd, c);
      }
      if (this.owner) fchownSync(fd, this.owner.uid, this.owner.gid);
    } finally {
      closeSync(fd);
    }
    chmodSync(path, mode & 0o777); // openSync's mode went through the umask
  }

  symlink(name: string, target: string): void {
    const parts = components(name);
    if (parts.length === 0) throw new Error(`archive entry ${JSON.stringify(name)}: no link name`);
    const dir = this.parent(parts, name);
    const path = join(dir, parts.at(-1)!);
    const rel = relative(this.root, resolve(dir, target));
    if (target.startsWith("/") || rel === ".." || rel.startsWith("../")) {
      throw new Error(`archive entry ${JSON.stringify(name)}: symbolic link to ${JSON.stringify(target)} points outside the destination`);
    }
    this.clear(path, name);
    symlinkSync(target, path);
    if (this.owner) lchownSync(path, this.owner.uid, this.owner.gid);
  }

  hardlink(name: string, target: string): void {
    const parts = components(name);
    if (target.startsWith("/") || target.split("/").includes("..")) {
      throw new Error(`archive entry ${JSON.stringify(name)}: hard link to ${JSON.stringify(target)} points outside the destination`);
    }
    const targetParts = components(target);
    const dir = this.parent(parts, name);
    const path = join(dir, parts.at(-1)!);
    // Through real folders only, and to a regular file the archive already unpacked here.
    const from = join(SafeTree.walk(this.root, targetParts.slice(0, -1), this.owner, `archive entry ${JSON.stringify(name)}`), targetParts.at(-1) ?? "");
    if (!existsSync(from) || !lstatSync(from).isFile()) {
      throw new Error(`archive entry ${JSON.stringify(name)}: hard link to ${JSON.stringify(target)}, which is not a file of the archive`);
    }
    this.clear(path, name);
    linkSync(from, path);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

async function unpackTar(file: string, gzip: boolean, tree: SafeTree): Promise<void> {
  const ex = extract();
  const input = createReadStream(file);
  const source = gzip ? input.pipe(createGunzip()) : input;
  source.on("error", (err: Error) => ex.destroy(err));
  source.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      switch (h.type) {
        case "file":
        case "contiguous-file":
          await tree.file(h.name, h.mode ?? 0o644, entry as AsyncIterable<Uint8Array>);
          break;
        case "directory":
          tree.dir(h.name, h.mode ?? 0o755);
          entry.resume();
          break;
        case "symlink":
          tree.symlink(h.name, h.linkname ?? "");
          entry.resume();
          break;
        case "link":
          tree.hardlink(h.name, h.linkname ?? "");
          entry.resume();
          break;
        default:
          throw new Error(`archive entry ${JSON.stringify(h.name)}: ${h.type ?? "unknown"} entries are refused (only files, folders and links)`);
      }
    }
  } finally {
    input.destroy();
  }
}

async function unpackZip(file: string, tree: SafeTree, maxBytes: number): Promise<void> {
  let declared = 0;
  const files = unzipSync(readFileSync(file), {
    filter: (f) => {
      declared += f.originalSize;
      if (declared > maxBytes) throw new Error(`unpacks to more than artifact_max_bytes (${maxBytes})`);
      return true;
    },
  });
  // fflate does not expose Unix modes: zip entries become plain files (0644) and folders.
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith("/")) tree.dir(name, 0o755);
    else await tree.file(name, 0o644, [data]);
  }
}

/** Unpacks `file` (an archive of `kind`) into the folder `dest` (already walked safely). */
export async function unpack(file: string, kind: ArchiveKind, dest: string, owner: Owner, maxBytes: number): Promise<void> {
  const tree = new SafeTree(dest, owner, maxBytes);
  if (kind === "zip") return unpackZip(file, tree, maxBytes);
  return unpackTar(file, kind === "tgz", tree);
}

/** Copies a fetched file to `path` (its folder already walked safely), owned by the task's user. */
export function placeFile(file: string, path: string, owner: Owner): void {
  if (existsSync(path) || isLink(path)) {
    if (lstatSync(path).isDirectory()) throw new Error(`${path} is a folder`);
    rmSync(path, { force: true });
  }
  copyFileSync(file, path, 1 /* COPYFILE_EXCL: never through what is there */);
  chmodSync(path, 0o644);
  if (owner) lchownSync(path, owner.uid, owner.gid);
}
