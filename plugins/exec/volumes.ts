// Host volumes inside task folders. A group's `volumes` name host volumes
// of the node (`[node.host_volumes.<name>]`, which the node registered as
// attributes, core/scheduler/host-volumes.ts); a task's `volume_mounts` bind
// them into its folder. volumeBinds() is pure, so a sandbox (bubblewrap)
// can add the same binds; mountBinds() does it with `mount --bind` in the
// agent's mount namespace when the agent is root.
//
// The host folder is the host's: data written there survives the
// allocation (and its replacement on the same node). So an allocation
// folder must never be deleted recursively while a bind mount is inside it:
// removeAllocDir() unmounts first and refuses to delete while anything is
// still mounted below.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { HostVolumeConfig, TaskGroup } from "../../core/sdk/index.ts";
import { SafeTree, type Owner } from "./artifact-unpack.ts";

export interface VolumeBind {
  /** The host folder. */
  source: string;
  /** Absolute path inside the task folder. */
  target: string;
  readOnly: boolean;
}

/**
 * The binds one task needs: each of its volume_mounts, read-only when the
 * mount, the group's request or the node's volume says so. Throws when the
 * group names a volume the node does not have (the scheduler should not have
 * placed it here).
 */
export function volumeBinds(
  group: Pick<TaskGroup, "volumes">,
  task: { volumeMounts?: { volume: string; destination: string; readOnly: boolean }[] },
  taskDir: string,
  hostVolumes: Readonly<Record<string, HostVolumeConfig>>,
): VolumeBind[] {
  return (task.volumeMounts ?? []).map((m) => {
    const req = group.volumes?.[m.volume];
    if (!req) throw new Error(`volume_mounts: no volume "${m.volume}" in the group`);
    const host = hostVolumes[req.source];
    if (!host) throw new Error(`missing host volume "${req.source}" on this node`);
    return { source: host.path, target: resolve(taskDir, m.destination), readOnly: m.readOnly || req.readOnly || host.readOnly };
  });
}

/** Mount points (from /proc/self/mountinfo) at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const base = resolve(dir);
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text.split("\n").filter(Boolean)
    .map((l) => unescape(l.split(" ")[4] ?? ""))
    .filter((p) => p === base || p.startsWith(base + "/"))
    .sort((a, b) => b.length - a.length);
}

/**
 * Bind-mounts each host folder at its target under `taskDir` (created as a
 * real folder: no symlink on the way, see SafeTree.walk), read-only when
 * asked. Already mounted targets (an adopted allocation) are left alone.
 */
export function mountBinds(binds: readonly VolumeBind[], taskDir: string, owner: Owner): void {
  for (const b of binds) {
    if (mountsUnder(b.target).includes(b.target)) continue;
    const parts = b.target.slice(resolve(taskDir).length + 1).split("/").filter(Boolean);
    SafeTree.walk(taskDir, parts, owner, `volume mount ${b.target}`);
    execFileSync("mount", ["--bind", b.source, b.target], { stdio: ["ignore", "ignore", "pipe"] });
    // A read-only bind needs a remount: the first mount takes the source's flags.
    if (b.readOnly) execFileSync("mount", ["-o", "remount,bind,ro", b.target], { stdio: ["ignore", "ignore", "pipe"] });
  }
}

/** Unmounts everything below `dir`; returns what is still mounted there. */
export function unmountUnder(dir: string): string[] {
  for (const m of mountsUnder(dir)) {
    try {
      execFileSync("umount", [m], { stdio: ["ignore", "ignore", "pipe"] });
    } catch {
      try {
        execFileSync("umount", ["-l", m], { stdio: ["ignore", "ignore", "pipe"] }); // busy: detach it now, the kernel finishes later
      } catch {
        /* reported below */
      }
    }
  }
  return mountsUnder(dir);
}

/**
 * Deletes an allocation folder, never through a bind mount: a host volume
 * still mounted inside would otherwise have the host's data deleted with it.
 */
export function removeAllocDir(dir: string): void {
  const left = unmountUnder(dir);
  if (left.length) throw new Error(`still mounted, not deleted: ${left.join(", ")}`);
  rmSync(dir, { recursive: true, force: true });
}
