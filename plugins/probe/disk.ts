// Disk fingerprinter: total and free bytes of the filesystem holding the data
// dir (Nomad's `unique.storage.*`).
//
// statfs(2) on the data dir answers exactly "which filesystem, how big, how
// much left" in microseconds. si.fsSize() would run `df` (and more) over every
// mount and leave us to match the path ourselves, so it is not used here.
//
// The schedulable disk (`resources.diskBytes`) is the space available to an
// unprivileged writer (f_bavail), as Nomad does: the filesystem is shared with
// whatever else lives on it, so only what is free now can be promised.
import { existsSync, realpathSync } from "node:fs";
import { readFile, statfs } from "node:fs/promises";
import path from "node:path";
import type { FingerprintResponse } from "./types.ts";

export interface DiskFacts {
  /** The data dir as given. */
  dataDir: string;
  /** Nearest existing ancestor of dataDir (itself when it exists), resolved. */
  statPath: string;
  /** Device of the filesystem holding statPath ("/dev/vda1"); "" when unknown (not Linux). */
  volume: string;
  /** Its mount point ("/"); "" when unknown. */
  mountPoint: string;
  totalBytes: number;
  /** Bytes an unprivileged writer can still use (f_bavail). */
  freeBytes: number;
}

/** Reads disk facts for the data dir. Cheap: one statfs and one /proc read. */
export async function detectDisk(dataDir: string): Promise<DiskFacts> {
  const statPath = nearestExisting(path.resolve(dataDir));
  const s = await statfs(statPath);
  // f_blocks/f_bavail count fragments (f_frsize); @types/node lacks frsize
  // but Bun and Node ≥ 22 return it. Equal to bsize on Linux filesystems.
  const blockBytes = (s as { frsize?: number }).frsize || s.bsize;
  const mount = await mountOf(statPath);
  return {
    dataDir,
    statPath,
    volume: mount?.device ?? "",
    mountPoint: mount?.mountPoint ?? "",
    totalBytes: s.blocks * blockBytes,
    freeBytes: s.bavail * blockBytes,
  };
}

/** The data dir may not exist before the first start: walk up to what does. */
function nearestExisting(absPath: string): string {
  let p = absPath;
  while (!existsSync(p)) {
    const parent = path.dirname(p);
    if (parent === p) break;
    p = parent;
  }
  return realpathSync(p);
}

export interface MountEntry {
  device: string;
  mountPoint: string;
}

/** The mount holding `p` (longest mount point prefix) from /proc/self/mounts; undefined off Linux. */
export async function mountOf(p: string, mountsPath = "/proc/self/mounts"): Promise<MountEntry | undefined> {
  if (process.platform !== "linux") return undefined;
  let text: string;
  try {
    text = await readFile(mountsPath, "utf8");
  } catch {
    return undefined;
  }
  return longestMountPrefix(p, parseMounts(text));
}

/** Entries of a mounts(5) table; spaces and such come octal-escaped (\040). */
export function parseMounts(text: string): MountEntry[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const [device, mountPoint] = line.split(" ");
    if (device && mountPoint) out.push({ device: unescape(device), mountPoint: unescape(mountPoint) });
  }
  return out;
}

/** The last-listed of the longest mount points containing `p` (later mounts shadow earlier ones). */
export function longestMountPrefix(p: string, mounts: MountEntry[]): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const contains = mp === "/" || p === mp || p.startsWith(mp.endsWith("/") ? mp : mp + "/");
    if (contains && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** Pure: disk facts to attributes and resources. */
export function diskFingerprint(facts: DiskFacts): FingerprintResponse {
  const attributes: Record<string, string> = {
    "unique.storage.bytestotal": String(facts.totalBytes),
    "unique.storage.bytesfree": String(facts.freeBytes),
  };
  if (facts.volume) attributes["unique.storage.volume"] = facts.volume;
  if (facts.mountPoint) attributes["unique.storage.mount"] = facts.mountPoint;
  return { attributes, resources: { diskBytes: facts.freeBytes } };
}
