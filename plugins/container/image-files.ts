// Reading a file of an unpacked image (its /etc/passwd and /etc/group, to
// resolve the container's user) as the container would see it, never a file
// of the node. An image's symbolic links are its own: `etc/passwd ->
// /host/secret` or `etc -> ../../..` mean paths inside the image's root, so
// each link on the way is resolved against that root, as a chroot would,
// and ".." stops at it. Without this, readFileSync(join(rootfs, "etc/passwd"))
// would follow an absolute link out to the node's own files.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from "node:fs";
import { join } from "node:path";

/** Links followed at most (Linux's own limit), so a loop of links ends. */
const MAX_LINKS = 40;
/** Largest file read: a passwd or group file is small; a huge one is refused rather than read into memory. */
export const MAX_IMAGE_FILE_BYTES = 4 * 1024 * 1024;

/**
 * `path` (absolute, as inside the container) resolved inside `rootfs`: the
 * host path it names, with every link resolved in the image's root; undefined
 * when a part is missing or not a folder where one is needed.
 */
export function resolveInImage(rootfs: string, path: string): string | undefined {
  const todo = path.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === "..") {
      done.pop(); // at the root, ".." is the root
      continue;
    }
    const host = join(rootfs, ...done, part);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined;
      const target = readlinkSync(host);
      if (target.startsWith("/")) done.length = 0; // absolute: from the image's root, not the node's
      todo.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      continue;
    }
    if (todo.length && !st.isDirectory()) return undefined;
    done.push(part);
  }
  return join(rootfs, ...done);
}

/** The text of the image's file `path` ("" when it has none, or it is not a regular file); throws when it is too large. */
export function readImageFile(rootfs: string, path: string): string {
  const host = resolveInImage(rootfs, path);
  if (host === undefined) return "";
  let fd: number;
  try {
    // O_NOFOLLOW: the last part was found not to be a link; should it have become one since, refuse.
    fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return "";
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return "";
    if (st.size > MAX_IMAGE_FILE_BYTES) throw new Error(`the image's ${path} is larger than ${MAX_IMAGE_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
