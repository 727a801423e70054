// The node's device files, for a privileged container's /dev (as Docker's
// --privileged and runc's privileged mode: every device of the host is
// created in the container, and the cgroup allows them all). Read at each
// privileged start, so a device plugged in since is there too.
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface HostDevice {
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** Folders of /dev the runtime makes itself (or that hold no device of the node's own). */
const SKIP = new Set(["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console", "/dev/ptmx", "/dev/fd", "/dev/core"]);

/** Linux's dev_t split (glibc's gnu_dev_major / gnu_dev_minor). */
function devMajor(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
function devMinor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

/** Character and block devices under `root` (default /dev), symbolic links not followed. */
export function hostDevices(root = "/dev", depth = 0): HostDevice[] {
  const out: HostDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(root, name);
    if (SKIP.has(path)) continue;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue; // gone meanwhile
    }
    if (st.isDirectory() && depth < 4) out.push(...hostDevices(path, depth + 1));
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.push({ path, type: st.isCharacterDevice() ? "c" : "b", major: devMajor(st.rdev), minor: devMinor(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    }
  }
  return out;
}
