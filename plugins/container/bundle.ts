// The OCI runtime bundle's config.json for one container task, pure: what
// runs (the image's Entrypoint and Cmd, or the task's overrides), as whom,
// with what environment, limits, namespaces, capabilities and mounts.
// The defaults are `runc spec`'s, hardened:
//   - capabilities: Docker's default set without NET_RAW and MKNOD (a
//     container may share the host's network: no raw sockets on it), nothing
//     ambient; no_new_privileges, so setuid files in the image gain nothing;
//   - own pid, ipc, uts and mount namespaces; the network: its allocation's
//     namespace (networks.ts, joined by path), a new empty one ("none"), or
//     the host's ("host");
//   - /proc and /sys masked and read-only as runc's defaults;
//   - a seccomp filter (seccomp.ts) keeping namespaces, mounts, the keyring,
//     modules, BPF and the like out of reach;
//   - memory limit = the task's memory, no swap beyond it; CPU shares by
//     the task's cpu (MHz), 1024 per 1000 MHz;
//   - the task folder (templates, secrets, artifacts, volumes) at /local.
// A task's cap_add / cap_drop change the capability set (the driver has
// checked it against the node's container_allow_caps). A privileged task
// (only where container_allow_privileged) is runc's privileged mode as
// Docker's --privileged makes it: every capability, no seccomp filter, no
// masked or read-only /proc and /sys paths, /sys writable, every device of
// the node in /dev and allowed by the cgroup, no no_new_privileges.
import { DEFAULT_CAPABILITIES, parseContainerUser, type ContainerSpec } from "../../core/sdk/index.ts";
import type { HostDevice } from "./host-devices.ts";
import type { ImageRunConfig } from "./manifest.ts";
import { seccompProfile } from "./seccomp.ts";

export const TASK_DIR_IN_CONTAINER = "/local";
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export { DEFAULT_CAPABILITIES };

/**
 * The process's argv, Docker's way: the task's entrypoint (else the
 * image's), then the task's command and args (else, args alone, else the
 * image's Cmd). Throws when nothing is left to run.
 */
export function containerArgv(image: ImageRunConfig, spec: ContainerSpec, command: string, args: readonly string[]): string[] {
  const entrypoint = spec.entrypoint ?? image.entrypoint;
  const cmd = command !== "" ? [command, ...args] : args.length ? [...args] : image.cmd;
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw new Error("nothing to run: the image has no Entrypoint or Cmd and the task gives no command");
  return argv;
}

/**
 * The environment: the image's, then the task's on top; PATH as Docker sets
 * it when neither does, and HOME (the user's home in the image's passwd,
 * else "/", as Docker) when `home` is given and neither sets it.
 */
export function containerEnv(image: ImageRunConfig, task: Readonly<Record<string, string>>, home?: string): string[] {
  const env = new Map<string, string>();
  for (const line of image.env) {
    const eq = line.indexOf("=");
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(task)) env.set(k, v);
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH);
  if (home !== undefined && !env.has("HOME")) env.set("HOME", home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

export interface UserIds {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/**
 * Who the container runs as: the task's `user` when it gives one, else the
 * image's `User` ("" is root), in the forms of core/scheduler/container-user.ts,
 * looked up in the image's own /etc/passwd and /etc/group text (never the
 * node's: a container's names are its image's). Docker's rules: a uid
 * without a passwd entry runs with gid 0; the supplementary groups are the
 * image's groups listing the user's name. Throws, saying where the name was
 * looked for, for a name the image does not know.
 */
export function resolveUser(user: string, passwd: string, group: string): UserIds {
  if (user === "") return { uid: 0, gid: 0, additionalGids: [] };
  const wanted = parseContainerUser(user);
  const users = passwd.split("\n").map((l) => l.split(":")).filter((f) => f.length >= 4 && /^[0-9]+$/.test(f[2]!) && /^[0-9]+$/.test(f[3]!));
  const groups = group.split("\n").map((l) => l.split(":")).filter((f) => f.length >= 3 && /^[0-9]+$/.test(f[2]!));
  let uid: number;
  let gid: number | undefined;
  if ("id" in wanted.user) {
    uid = wanted.user.id;
    const entry = users.find((f) => Number(f[2]) === uid);
    if (entry) gid = Number(entry[3]);
  } else {
    const name = wanted.user.name;
    const entry = users.find((f) => f[0] === name);
    if (!entry) throw new Error(`user ${JSON.stringify(name)} is not in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (wanted.group) {
    if ("id" in wanted.group) gid = wanted.group.id;
    else {
      const name = wanted.group.name;
      const entry = groups.find((f) => f[0] === name);
      if (!entry) throw new Error(`group ${JSON.stringify(name)} is not in the image's /etc/group`);
      gid = Number(entry[2]);
    }
  }
  const name = users.find((f) => Number(f[2]) === uid)?.[0];
  const additionalGids = name ? groups.filter((f) => (f[3] ?? "").split(",").includes(name)).map((f) => Number(f[2])) : [];
  return { uid, gid: gid ?? 0, additionalGids };
}

/** The home folder of `uid` in the image's passwd text, else "/" (Docker's default). */
export function homeOf(uid: number, passwd: string): string {
  const entry = passwd.split("\n").map((l) => l.split(":")).find((f) => f.length >= 6 && /^[0-9]+$/.test(f[2]!) && Number(f[2]) === uid);
  return entry?.[5] || "/";
}

export interface BundleInput {
  argv: string[];
  env: string[];
  cwd: string;
  user: UserIds;
  hostname: string;
  readonlyRootfs: boolean;
  /** The task folder on the host, bound at /local. */
  taskDir: string;
  memoryBytes: number;
  cpuMhz: number;
  /** The container's cgroup, e.g. "/corral/<alloc>.<task>/ctr" (limits.ts reads its parent). */
  cgroupsPath: string;
  /** Files of the host bound read-only (e.g. /etc/resolv.conf, /etc/hosts), by container path. */
  hostFiles: Readonly<Record<string, string>>;
  /** The network namespace: the allocation's (its /run/netns path), a new empty one, or the host's. */
  network: { path: string } | "none" | "host";
  /** Absent: the default capabilities, confined. */
  security?: BundleSecurity;
}

export interface BundleSecurity {
  privileged: boolean;
  /** The task's capabilities (capabilities.ts effectiveCapabilities); when privileged, every one the agent has (host-capabilities.ts). */
  capabilities: readonly string[];
  /** Privileged only: the node's devices, created in the container's /dev (host-devices.ts). */
  devices: readonly HostDevice[];
}

function networkNamespace(n: BundleInput["network"]): { type: "network"; path?: string }[] {
  if (n === "host") return [];
  return [n === "none" ? { type: "network" } : { type: "network", path: n.path }];
}

export function bundleConfig(i: BundleInput): Record<string, unknown> {
  const privileged = i.security?.privileged ?? false;
  const bounding = [...(i.security?.capabilities ?? DEFAULT_CAPABILITIES)];
  // A non-root user gets none in effect (Docker's rule): runc would otherwise hand them over across its setuid.
  const caps = i.user.uid === 0 ? bounding : [];
  return {
    ociVersion: "1.0.2-dev",
    process: {
      terminal: false,
      user: { uid: i.user.uid, gid: i.user.gid, ...(i.user.additionalGids.length ? { additionalGids: i.user.additionalGids } : {}) },
      args: i.argv,
      env: i.env,
      cwd: i.cwd,
      capabilities: { bounding, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }], // runc's default; more than the agent's own hard limit fails the start
      noNewPrivileges: !privileged,
    },
    root: { path: "rootfs", readonly: i.readonlyRootfs },
    hostname: i.hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"] },
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] },
      { destination: TASK_DIR_IN_CONTAINER, type: "bind", source: i.taskDir, options: ["rbind", "rw", "nosuid", "nodev"] },
      ...Object.entries(i.hostFiles).map(([destination, source]) => ({ destination, type: "bind", source, options: ["bind", "ro", "nosuid", "nodev", "noexec"] })),
    ],
    linux: {
      cgroupsPath: i.cgroupsPath,
      resources: {
        devices: [{ allow: privileged, access: "rwm" }],
        memory: { limit: i.memoryBytes, swap: i.memoryBytes },
        cpu: { shares: Math.max(2, Math.round((i.cpuMhz * 1024) / 1000)) },
        pids: { limit: 4096 },
      },
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, ...networkNamespace(i.network)],
      ...(privileged
        ? { devices: (i.security?.devices ?? []).map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid })) }
        : {
          seccomp: seccompProfile(bounding),
          maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
          readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        }),
    },
  };
}
