// The command line that runs an exec task isolated (docs/exec.md
// "Isolation"), pure: the caller looks at the host (sandbox-host.ts) and
// spawns the result without a shell, so no job text is ever parsed.
//
// The task runs under bubblewrap, started by the root agent:
//   - its own PID, mount, IPC and UTS namespaces (and cgroup namespace where
//     the kernel has one), a fresh /proc of its PID namespace, a minimal
//     /dev, a private tmpfs /tmp;
//   - an empty root (tmpfs) holding only the system paths of
//     `[plugins.exec] chroot_env`, read-only, and its own task folder,
//     read-write, at the same path as on the host (so CORRAL_TASK_DIR,
//     HOME and the files the agent writes there keep their names): no data
//     dir, no other task, no /root or /home, no agent's /proc;
//   - `network_mode = "none"`: its own empty network namespace (loopback
//     only); "host" (the default, like Nomad's exec without CNI) shares the
//     host's;
//   - as its user, from the start: the agent spawns bwrap already switched
//     to the task's uid and gid (no supplementary groups), and bwrap builds
//     the namespaces inside a user namespace that maps that uid and gid to
//     themselves; the command gets no capabilities, no_new_privs, and no
//     further user namespaces (--disable-userns). Nothing that reads job
//     input (command, args, env: LD_PRELOAD...) ever runs as root.
//
// Deliberately absent: --die-with-parent (tasks outlive the agent, which
// re-adopts them by pid and start time: the pid is bwrap's, which lives
// exactly as long as the task) and --new-session (the agent spawns bwrap in
// a session of its own with no terminal, and the task must stay in bwrap's
// process group, so signals to the group reach it).

/** Where the isolation tools are on this host. */
export interface SandboxTools {
  bwrap: string;
}

/** One chroot_env path as found on the host (sandbox-host.ts looks). */
export type HostPath =
  | { path: string; kind: "dir" | "file" }
  /** A symbolic link: `link` is what it says (readlink), `real` the canonical path it leads to. */
  | { path: string; kind: "symlink"; link: string; real: string; realKind: "dir" | "file" }
  | { path: string; kind: "missing" };

export type NetworkMode = "host" | "none";

export interface SandboxInput {
  tools: SandboxTools;
  /** The chroot_env paths, looked at on the host. */
  paths: readonly HostPath[];
  /** The task's folder: bound read-write at its own path, the working directory. */
  taskDir: string;
  /** The task's user: bwrap is spawned as it (the caller's job) and maps it to itself. */
  runAs: { uid: number; gid: number };
  network: NetworkMode;
  command: string;
  args: readonly string[];
  /**
   * The task's command when it is a host file outside chroot_env (a program
   * the job names by absolute path): that one file is bound read-only at its
   * path, `real` being what it resolves to. Host permissions still apply.
   */
  commandFile?: { path: string; real: string };
}

/** Paths never given to a task, whatever chroot_env says: the agent's and users' private places, and the host's live views. */
export const FORBIDDEN_ROOTS = ["/root", "/home", "/proc", "/sys", "/dev", "/run", "/tmp", "/var"] as const;

const inside = (path: string, root: string) => root === "/" || path === root || path.startsWith(root.endsWith("/") ? root : root + "/");

/**
 * Why a chroot_env path may not be shared with tasks, if it may not: "/",
 * anything inside or containing the data dir, anything under FORBIDDEN_ROOTS.
 * Pure, for config validation and for the probe's warnings.
 */
export function refusedPath(path: string, dataDir: string): string | undefined {
  if (!path.startsWith("/")) return `"${path}" is not an absolute path`;
  if (path === "/" || path.split("/").includes("..")) return `"${path}" would share the whole host`;
  if (inside(dataDir, path) || inside(path, dataDir)) return `"${path}" holds the agent's data dir`;
  const root = FORBIDDEN_ROOTS.find((r) => inside(path, r));
  if (root) return `"${path}" is under ${root}, never shared with tasks`;
  return undefined;
}

/**
 * bwrap's mount arguments for the chroot_env paths: a directory or file is
 * bound read-only at its path; a symbolic link whose target is itself
 * shared (Debian's /bin → usr/bin) stays a link; one leading elsewhere
 * (/etc/resolv.conf → /run/...) binds its target's content at the link's
 * path; a missing path is skipped (lib32 on a 64-bit-only host).
 */
/** Whether `path` is in view through the chroot_env paths already. */
export function shared(paths: readonly HostPath[], path: string): boolean {
  return paths.some((p) => p.kind !== "missing" && inside(path, p.path));
}

export function chrootMounts(paths: readonly HostPath[]): string[] {
  const shared = paths.filter((p) => p.kind === "dir" || p.kind === "file").map((p) => p.path);
  const out: string[] = [];
  for (const p of paths) {
    if (p.kind === "missing") continue;
    if (p.kind === "symlink") {
      if (shared.some((s) => inside(p.real, s))) out.push("--symlink", p.link, p.path);
      else out.push("--ro-bind", p.real, p.path);
      continue;
    }
    out.push("--ro-bind", p.path, p.path);
  }
  return out;
}

/** "/a/b/c" → ["/a", "/a/b"]. */
export function ancestors(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  return parts.slice(0, -1).map((_, n) => "/" + parts.slice(0, n + 1).join("/"));
}

/** The argv (command and its arguments) that runs the task isolated. */
export function sandboxCommand(i: SandboxInput): { command: string; args: string[] } {
  const args = [
    "--unshare-user", "--uid", String(i.runAs.uid), "--gid", String(i.runAs.gid), "--disable-userns",
    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    ...(i.network === "none" ? ["--unshare-net"] : []),
    // An empty root: only what follows exists in it.
    "--tmpfs", "/",
    ...chrootMounts(i.paths),
    "--proc", "/proc",
    "--dev", "/dev",
    // The task's own /tmp and /dev/shm, sticky and writable by all as on a host (bwrap makes tmpfs 0755).
    "--perms", "1777", "--tmpfs", "/tmp",
    "--perms", "1777", "--tmpfs", "/dev/shm",
    // The (empty) folders down to the task's: traversable, not listable, as the data dir's are on the
    // host. They belong to the task's uid in its namespace, so 0111, not 0711; the root is read-only, so
    // no chmod undoes it.
    ...ancestors(i.taskDir).flatMap((d) => ["--perms", "0111", "--dir", d]),
    ...(i.commandFile ? ["--ro-bind", i.commandFile.real, i.commandFile.path] : []),
    "--bind", i.taskDir, i.taskDir,
    // Everything but the task folder and /tmp stays read-only: the root tmpfs too.
    "--remount-ro", "/",
    "--chdir", i.taskDir,
    "--",
    i.command, ...i.args,
  ];
  return { command: i.tools.bwrap, args };
}
