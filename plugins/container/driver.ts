// The container driver's work for one task, called by the exec driver's
// allocation runner (plugins/exec/alloc-runner.ts), which runs a container
// task like any other: its TaskRunner spawns `runc run` in the foreground
// as the task's process (runc hands the container the task's log files as
// stdout/stderr, forwards signals to it and exits with its exit code), so
// logs, restarts, exit codes, services, templates and reattaching after an
// agent restart (runc outlives the agent as an exec task does) are exec's.
// What is the container's own:
//   prepare   pull (registry.ts, into the node's blob store), unpack once
//             per image (snapshots.ts), a writable root per task (overlayfs
//             or a copy), the bundle's config.json (bundle.ts);
//   start     `runc delete --force` of a leftover container of that name;
//   signals   through `runc kill`, which reaches the container's init
//             (SIGKILL included: killing runc itself would orphan it);
//   limits    memory and CPU in the bundle, OOM read back (cgroup-oom.ts);
//   release   the container's state, root and cgroups when the task is over.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  capabilitiesNotAllowed, capabilitySet, DEFAULT_CAPABILITIES, effectiveCapabilities, formatCapabilities, formatImageRef, parseImageRef, type ContainerSpec, type Logger,
} from "../../core/sdk/index.ts";
import { hostDevices } from "./host-devices.ts";
import { agentBoundingCapabilities } from "./host-capabilities.ts";
import { BlobStore } from "./blob-store.ts";
import { bundleConfig, containerArgv, containerEnv, homeOf, resolveUser, TASK_DIR_IN_CONTAINER, type UserIds } from "./bundle.ts";
import { readImageFile } from "./image-files.ts";
import { handTaskDirTo, mountPointsUnder } from "./task-dir-owner.ts";
import { cgroupParent, ContainerLimits, type ContainerKey } from "./cgroup-oom.ts";
import { RegistryClient, type Credentials } from "./registry.ts";
import type { Runtime } from "./runtime.ts";
import { ImageSnapshots, releaseRootfs, rootfsFor } from "./snapshots.ts";
import { ContainerNetworks, type AllocNetwork } from "./networks.ts";
import { execPidFile, type InsideProcess } from "./exec-pid.ts";

/** Stop signals an image may name (numbers and exotic ones fall back to SIGTERM). */
const ALLOWED_STOP = new Set(["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGKILL"]);

export interface ContainerDriverOptions {
  /** <data_dir>/container: blobs/, images/, state/ (the runtime's). */
  dir: string;
  runtime: Runtime;
  auth: Readonly<Record<string, Credentials>>;
  insecureRegistries: readonly string[];
  /** Registries images may come from; empty: any. */
  allowedRegistries: readonly string[];
  /** container_allow_privileged: whether `privileged = true` tasks run here (absent: no). */
  allowPrivileged?: boolean;
  /** container_allow_caps: the capabilities a task may end up with (names as configured; "all" allowed; absent: the default set). */
  allowCaps?: readonly string[];
  cacheBytes: number;
  /** Blobs unused for longer go at a trim (container_cache_max_age); 0 or absent: no age bound. */
  cacheMaxAgeMs?: number;
  /** Bound of the unpacked images (snapshots.ts trim). */
  imagesBytes: number;
  maxUnpackedBytes: number;
  pullTimeoutMs: number;
  /** Where the host ports of containers in their own network are proxied from (the node's advertised address). */
  listenHost: string;
  /** The slirp4netns binary giving allocation networks a route out (container_outbound; outbound.ts), or none. */
  slirp?: string;
  log: Logger;
}

/** A container task's network: its allocation's namespace (ready once the promise is), a new empty one, or the host's. */
export type TaskNetwork = Promise<AllocNetwork> | "none" | "host";

export interface PrepareInput extends ContainerKey {
  spec: ContainerSpec;
  command: string;
  args: readonly string[];
  /** The task's environment as exec computed it (host paths of the task folder are rewritten to /local). */
  env: Readonly<Record<string, string>>;
  taskDir: string;
  /** Where the bundle goes: config.json and the root (never inside the task folder the container sees). */
  bundleDir: string;
  memoryBytes: number;
  cpuMhz: number;
  network: TaskNetwork;
  /** Pull progress and the like, as task events. */
  note(message: string): void;
}

export interface Prepared {
  events: string[];
  /** Who the container runs as (the task's user, else the image's), resolved in the image. */
  user: UserIds;
}

/**
 * The container's uid, gid and groups: `user` (the task's, else the
 * image's User) looked up in the image's own passwd and group files, read
 * inside its root (image-files.ts: its links stay in the image). The error
 * names the image's file and who asked, for the task's events.
 */
export function containerUser(rootfs: string, user: string, from: "task" | "image" = "task"): UserIds & { home: string } {
  const passwd = readImageFile(rootfs, "/etc/passwd");
  try {
    const ids = resolveUser(user, passwd, user === "" ? "" : readImageFile(rootfs, "/etc/group"));
    return { ...ids, home: homeOf(ids.uid, passwd) };
  } catch (err) {
    throw new Error(`${(err as Error).message} (${from === "task" ? `the task's user = ${JSON.stringify(user)}` : `the image's User ${JSON.stringify(user)}`})`);
  }
}

/** The runtime's container id of a task: unique on the node, stable across agent restarts. */
export function containerId(key: ContainerKey): string {
  return `corral-${key.allocId}-${key.task}`;
}

export class ContainerDriver {
  readonly limits = new ContainerLimits();
  /** Each allocation's network namespace, veth pair and port proxy (networks.ts). */
  readonly networks: ContainerNetworks;
  private store: BlobStore;
  private registry: RegistryClient;
  private snapshots: ImageSnapshots;
  private stateDir: string;
  /** Pid files of `runc exec` processes (exec-pid.ts). */
  private execPidDir: string;
  /** Tasks between the start of their pull and their mounted root. */
  private preparing = 0;

  constructor(private o: ContainerDriverOptions) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    this.store = new BlobStore(o.dir, o.cacheBytes, o.cacheMaxAgeMs ?? 0);
    this.registry = new RegistryClient({ auth: o.auth, insecure: o.insecureRegistries, timeoutMs: o.pullTimeoutMs }, this.store);
    this.snapshots = new ImageSnapshots(join(o.dir, "images"), this.store, o.maxUnpackedBytes);
    this.snapshots.sweep();
    this.networks = new ContainerNetworks(join(o.dir, "net"), o.listenHost, o.log, o.slirp);
    this.stateDir = join(o.dir, "state");
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    this.execPidDir = join(o.dir, "exec-pids");
    rmSync(this.execPidDir, { recursive: true, force: true }); // files of a previous run's execs, gone with it
    mkdirSync(this.execPidDir, { recursive: true, mode: 0o700 });
  }

  /**
   * Why the task may not run here (container_allowed_registries,
   * container_allow_privileged, container_allow_caps), or undefined. The
   * scheduler places by the same rules (the node's attributes); this is the
   * driver's own check, for a placement made before the agent's config
   * changed or by a forged plan.
   */
  refusal(spec: ContainerSpec): string | undefined {
    const ref = parseImageRef(spec.image);
    if (this.o.allowedRegistries.length && !this.o.allowedRegistries.includes(ref.registry)) {
      return `image ${spec.image}: registry ${ref.registry} is not in [plugins.exec] container_allowed_registries`;
    }
    if (spec.privileged) {
      return this.o.allowPrivileged ? undefined : "privileged containers are not allowed on this node ([plugins.exec] container_allow_privileged = false)";
    }
    let missing: string[];
    try {
      missing = capabilitiesNotAllowed(effectiveCapabilities(spec.capAdd, spec.capDrop), capabilitySet(this.o.allowCaps ?? DEFAULT_CAPABILITIES));
    } catch (err) {
      return (err as Error).message;
    }
    if (missing.length) return `capabilities ${formatCapabilities(missing)} are not in [plugins.exec] container_allow_caps of this node`;
    return undefined;
  }

  /** Pulls and unpacks the image, makes the task's root and writes the bundle; resolves with event lines and who the container runs as. */
  async prepare(i: PrepareInput): Promise<Prepared> {
    this.preparing++;
    try {
      return await this.prepareOne(i);
    } finally {
      this.preparing--;
    }
  }

  private async prepareOne(i: PrepareInput): Promise<Prepared> {
    const ref = parseImageRef(i.spec.image);
    i.note(`pulling ${formatImageRef(ref)}`);
    const t0 = performance.now();
    const image = await this.registry.pull(ref, (m) => i.note(m));
    const t1 = performance.now();
    const snapshot = await this.snapshots.rootfs(image);
    const t2 = performance.now();
    // Before the root is made: a name the image does not know fails the start with nothing to undo.
    const user = i.spec.user !== undefined ? containerUser(snapshot, i.spec.user, "task") : containerUser(snapshot, image.config.user, "image");
    mkdirSync(i.bundleDir, { recursive: true, mode: 0o700 });
    const root = rootfsFor(snapshot, i.bundleDir);
    const t3 = performance.now();
    // Trimmed only while no other task is between its pull and its mount: its blobs and snapshot are not
    // yet marked as in use (the next start that runs alone trims).
    if (this.preparing === 1) {
      const blobs = this.store.trim(new Set([image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]));
      if (blobs.length) this.o.log.info("container: blobs removed (container_cache_bytes, container_cache_max_age)", { blobs: blobs.length });
      const dropped = this.snapshots.trim(this.o.imagesBytes); // after the mount: this image's snapshot counts as in use
      if (dropped.length) this.o.log.info("container: unpacked images removed (container_images_bytes)", { images: dropped });
    }
    const t4 = performance.now();
    const env = Object.fromEntries(Object.entries(i.env).map(([k, v]) => [k, v.startsWith(i.taskDir) ? TASK_DIR_IN_CONTAINER + v.slice(i.taskDir.length) : v]));
    const net = typeof i.network === "string" ? undefined : await i.network;
    const network = net ? { path: net.nsPath } : (i.network as "none" | "host");
    const hostFiles: Record<string, string> = {};
    for (const f of ["/etc/resolv.conf", "/etc/hosts"]) if (existsSync(f)) hostFiles[f] = f;
    // With a route out, DNS goes to slirp's forwarder (the node's nameservers may be on its loopback, out of reach).
    if (net?.resolvConf) hostFiles["/etc/resolv.conf"] = net.resolvConf;
    const config = bundleConfig({
      argv: containerArgv(image.config, i.spec, i.command, i.args),
      env: containerEnv(image.config, env, user.home),
      cwd: i.spec.workDir ?? image.config.workingDir,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids }, hostname: i.allocId.slice(0, 8), readonlyRootfs: i.spec.readonlyRootfs, taskDir: i.taskDir,
      memoryBytes: i.memoryBytes, cpuMhz: i.cpuMhz, cgroupsPath: `${cgroupParent(i)}/ctr`, hostFiles, network,
      security: {
        privileged: i.spec.privileged === true,
        capabilities: i.spec.privileged ? agentBoundingCapabilities() : effectiveCapabilities(i.spec.capAdd, i.spec.capDrop),
        devices: i.spec.privileged ? hostDevices() : [],
      },
    });
    writeFileSync(join(i.bundleDir, "config.json"), JSON.stringify(config, null, 2), { mode: 0o600 });
    writeFileSync(join(i.bundleDir, "stop-signal"), image.config.stopSignal, { mode: 0o600 });
    // Where the preparation's time went, for whoever wonders why a start is slow (and bench/container.ts).
    const ms = (a: number, b: number) => Math.round(b - a);
    const took = `pull ${ms(t0, t1)} ms, unpack ${ms(t1, t2)} ms, root ${ms(t2, t3)} ms, cache trim ${ms(t3, t4)} ms, bundle ${ms(t4, performance.now())} ms`;
    return { events: [`image ${image.manifestDigest.slice(0, 19)} ready (root: ${root.mode}; ${took}; user ${user.uid}:${user.gid})`], user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids } };
  }

  /**
   * The task folder (/local) given to a non-root container user, once all
   * the agent writes before the start is there (task-dir-owner.ts; volume
   * mounts excluded). An event line when something was handed over.
   */
  handOverTaskDir(taskDir: string, user: UserIds): string | undefined {
    if (user.uid === 0 && user.gid === 0) return undefined;
    // Once only, while the folder is still root's (0700: nothing but the agent has written in it). At a
    // restart it is the user's already, and what the agent writes since is written as the user
    // (alloc-runner.ts): no walk through a folder another process of that uid could be changing.
    const st = lstatSync(taskDir);
    if (st.uid !== 0) return undefined;
    const r = handTaskDirTo(taskDir, { uid: user.uid, gid: user.gid }, mountPointsUnder(readFileSync("/proc/self/mountinfo", "utf8"), taskDir));
    return `${TASK_DIR_IN_CONTAINER} given to ${user.uid}:${user.gid}${r.truncated ? ` (stopped after ${r.entries} entries)` : ""}`;
  }

  /**
   * Who the bundle's container runs as, from its config.json (written by an
   * earlier start, this agent's or a previous one's), when not root: what
   * a resumed task's template renders are written as. Undefined before the
   * first start, for root, or when unreadable.
   */
  bundleUser(bundleDir: string): { uid: number; gid: number } | undefined {
    try {
      const u = (JSON.parse(readFileSync(join(bundleDir, "config.json"), "utf8")) as { process?: { user?: { uid?: unknown; gid?: unknown } } }).process?.user;
      if (typeof u?.uid !== "number" || typeof u.gid !== "number" || (u.uid === 0 && u.gid === 0)) return undefined;
      return { uid: u.uid, gid: u.gid };
    } catch {
      return undefined;
    }
  }

  /** The task's process: the runtime, in the foreground, running the bundle. */
  command(key: ContainerKey, bundleDir: string): { command: string; args: string[]; label: string } {
    return { command: this.o.runtime.path, args: ["--root", this.stateDir, "run", "--no-new-keyring", "--bundle", bundleDir, containerId(key)], label: `container ${containerId(key)}` };
  }

  /** Whether the runtime reports the task's container running (not only created: `runc run` is between create and start). */
  isRunning(key: ContainerKey): boolean {
    const r = spawnSync(this.o.runtime.path, ["--root", this.stateDir, "state", containerId(key)], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) return false;
    try {
      return (JSON.parse(r.stdout) as { status?: string }).status === "running";
    } catch {
      return false;
    }
  }

  /**
   * A command run inside the task's running container (`runc exec`): the
   * container's namespaces, cgroup, user, capabilities and environment, as
   * its config.json gives them. `args` give it pipes; `terminalArgs` a
   * terminal inside the container (`runc exec -t` in runc's foreground
   * mode: runc opens a pty in the container and copies it to and from its
   * own stdio, which must then be a terminal: the session's, exec-process.ts;
   * it sets that one raw and passes its window size on at start and on
   * every SIGWINCH). Not `--console-socket`: runc refuses it unless it also
   * detaches, and a detached runc no longer reports the exit code.
   * TERM as Docker gives a tty, for full-screen programs. `inside` ends the
   * process in the container when the exec ends early (exec-pid.ts).
   */
  execCommand(key: ContainerKey, argv: readonly string[]): { command: string; args: string[]; terminalArgs: string[]; inside: InsideProcess } {
    const pid = execPidFile(this.execPidDir);
    const base = ["--root", this.stateDir, "exec", "--pid-file", pid.path];
    return {
      command: this.o.runtime.path,
      args: [...base, containerId(key), ...argv],
      terminalArgs: [...base, "--tty", "--env", "TERM=xterm-256color", containerId(key), ...argv],
      inside: pid.inside,
    };
  }

  /**
   * Before each start: a container of that id left behind (runc killed hard) would block `runc run`.
   * The runtime keeps a container's state in `<state>/<id>/` (runc and crun alike): without it there is
   * nothing to delete, and the usual first start skips a synchronous runtime call (10–280 ms on a busy
   * node, with the agent's event loop blocked meanwhile; see bench/container.ts).
   */
  clearLeftover(key: ContainerKey): void {
    if (!existsSync(join(this.stateDir, containerId(key)))) return;
    spawnSync(this.o.runtime.path, ["--root", this.stateDir, "delete", "--force", containerId(key)], { stdio: "ignore", timeout: 30_000 });
  }

  /** The signal that stops the task: the image's StopSignal (SIGTERM by default), kept in the bundle for a later agent. */
  stopSignal(_key: ContainerKey, bundleDir: string): NodeJS.Signals {
    let s = "SIGTERM";
    try {
      s = readFileSync(join(bundleDir, "stop-signal"), "utf8").trim() || s;
    } catch {}
    const name = s.toUpperCase().startsWith("SIG") ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
    return (ALLOWED_STOP.has(name) ? name : "SIGTERM") as NodeJS.Signals;
  }

  /** Sends `sig` to the container's init; false when the runtime knows no such running container. */
  kill(key: ContainerKey, sig: NodeJS.Signals): boolean {
    const r = spawnSync(this.o.runtime.path, ["--root", this.stateDir, "kill", containerId(key), sig.replace(/^SIG/, "")], { encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) this.o.log.debug("container: runc kill failed", { id: containerId(key), sig, err: r.stderr?.trim() });
    return r.status === 0;
  }

  /** The task is over for good: its container state, root (unmounted) and cgroups go. */
  release(key: ContainerKey, bundleDir: string): void {
    this.clearLeftover(key);
    releaseRootfs(bundleDir);
    this.limits.remove(key);
  }
}

export interface ContainerTaskInput {
  allocId: string;
  /** The task, interpolated. */
  task: { name: string; command: string; args: string[]; container?: ContainerSpec; resources: { memoryMb: number; cpuMhz: number } };
  taskDir: string;
  bundleDir: string;
  env: Readonly<Record<string, string>>;
  network: TaskNetwork;
  note(message: string): void;
  /** More preparation after the image (the task's artifacts): its event lines. */
  after(): Promise<string[]>;
  /** The container's user is not root: what the agent writes into the task folder from now on (template re-renders) goes to it. */
  onUser?(owner: { uid: number; gid: number }): void;
}

/**
 * What a container task's TaskRunner (plugins/exec/task-runner.ts) takes
 * from this driver: the runtime as its process, how to prepare, signal and
 * limit it.
 */
export function containerTask(drv: ContainerDriver, i: ContainerTaskInput) {
  const key = { allocId: i.allocId, task: i.task.name };
  const spec = i.task.container!;
  const env = { ...i.env };
  delete env.CORRAL_ALLOC_DIR; // a host path: the container sees its task folder only (/local)
  return {
    sandboxed: drv.command(key, i.bundleDir),
    limits: drv.limits,
    prepareEvent: "Pulling Image",
    prepare: async () => {
      const p = await drv.prepare({
        ...key, spec, command: i.task.command, args: i.task.args, env, taskDir: i.taskDir, bundleDir: i.bundleDir,
        memoryBytes: i.task.resources.memoryMb * 1024 * 1024, cpuMhz: i.task.resources.cpuMhz, network: i.network, note: i.note,
      });
      const more = await i.after();
      // Last: the artifacts just fetched are in the folder too.
      const handed = drv.handOverTaskDir(i.taskDir, p.user);
      if (p.user.uid !== 0 || p.user.gid !== 0) i.onUser?.({ uid: p.user.uid, gid: p.user.gid });
      return [...p.events, ...more, ...(handed ? [handed] : [])];
    },
    beforeStart: () => drv.clearLeftover(key),
    stopSignal: () => drv.stopSignal(key, i.bundleDir),
    signalTask: (pid: number, sig: NodeJS.Signals) => {
      // The runtime's own process group too when the runtime cannot (the container is already gone).
      if (!drv.kill(key, sig)) {
        try {
          process.kill(-pid, sig);
        } catch {}
      }
    },
  };
}
