// The I/O half of sandbox.ts: finds bubblewrap, looks at the
// chroot_env paths, and probes once whether this host really lets a task
// run isolated (a sandboxed `true` as the task user): a kernel without
// namespaces, a container without CAP_SYS_ADMIN or an absent bwrap all
// answer "none", and the node says so in its attributes
// (`driver.exec.isolation`), for the scheduler to keep tasks that require
// isolation off it.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ISOLATED, ISOLATION_ATTRIBUTE, readPasswd, untraversable } from "../../core/sdk/index.ts";
import type { ExecConfig } from "./config.ts";
import { refusedPath, sandboxCommand, shared, type HostPath, type SandboxTools } from "./sandbox.ts";

export const BWRAP_VERSION_ATTRIBUTE = "driver.exec.bwrap.version";

/** What the probe found: usable tools and the chroot paths, or why not. */
export type Isolation =
  | { ok: true; tools: SandboxTools; paths: HostPath[]; version: string; warnings: string[] }
  | { ok: false; reason: string; version?: string; warnings: string[] };

/** A chroot_env path as it is on the host (symbolic links not followed). */
export function lookAt(path: string): HostPath {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) {
      const real = realpathSync(path);
      return { path, kind: "symlink", link: readlinkSync(path), real, realKind: statSync(real).isDirectory() ? "dir" : "file" };
    }
    return { path, kind: st.isDirectory() ? "dir" : "file" };
  } catch {
    return { path, kind: "missing" }; // absent, or a link to nothing
  }
}

export interface ProbeOptions {
  /** `[plugins.exec] bwrap`: the bubblewrap binary; "" turns isolation off. */
  bwrap: string;
  chrootEnv: readonly string[];
  dataDir: string;
  /** Who the probe's `true` runs as (the plugin's default task user). */
  runAs: { uid: number; gid: number } | undefined;
}

/**
 * Whether exec tasks can be isolated here. Runs a real sandboxed `true`
 * (≈10 ms): call once at start (cached by probeIsolation).
 */
export function detectIsolation(o: ProbeOptions): Isolation {
  const warnings: string[] = [];
  if (!o.bwrap) return { ok: false, reason: "[plugins.exec] bwrap is empty (isolation turned off)", warnings };
  if (process.getuid?.() !== 0) return { ok: false, reason: "the agent does not run as root", warnings };
  if (!o.runAs) return { ok: false, reason: "the default task user does not exist", warnings };
  if (!existsSync(o.bwrap)) return { ok: false, reason: `${o.bwrap} not found (install bubblewrap)`, warnings };
  // bwrap runs as the task user and binds the task folder by path: the way there must be open to it
  // (the data dir itself is made 0711 by dirs.ts; its parents are the operator's).
  const closed = untraversable(dirname(resolve(o.dataDir)));
  if (closed) return { ok: false, reason: `${closed}, above the data dir, is not traversable by others (o+x): task users cannot reach their folders`, warnings };
  const v = spawnSync(o.bwrap, ["--version"], { encoding: "utf8", timeout: 5000 });
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(v.stdout ?? "")?.[1] ?? "unknown";
  const paths: HostPath[] = [];
  for (const p of o.chrootEnv) {
    const seen = lookAt(p);
    const why = refusedPath(p, o.dataDir) ?? (seen.kind === "symlink" ? refusedPath(seen.real, o.dataDir) : undefined);
    if (why) warnings.push(`chroot_env: ${why}; skipped`);
    else paths.push(seen);
  }
  const tools = { bwrap: o.bwrap };
  const dir = mkdtempSync(join(tmpdir(), "corral-isolation-probe-"));
  try {
    chownSync(dir, o.runAs.uid, o.runAs.gid);
    const cmd = sandboxCommand({ tools, paths, taskDir: dir, runAs: o.runAs, network: "none", command: "/bin/sh", args: ["-c", "exit 0"] });
    // As the task user, as tasks are: user namespaces must be open to it (kernel.unprivileged_userns_clone, AppArmor).
    const r = spawnSync(cmd.command, cmd.args, { encoding: "utf8", timeout: 10_000, env: { PATH: "/usr/bin:/bin" }, uid: o.runAs.uid, gid: o.runAs.gid });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().slice(0, 300);
      return { ok: false, reason: `a sandboxed test task failed: ${why}`, version, warnings };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ok: true, tools, paths, version, warnings };
}

let cached: { key: string; result: Isolation } | undefined;

/** detectIsolation, once per set of options for this process (the agent's registration and the exec plugin both ask). */
export function probeIsolation(o: ProbeOptions): Isolation {
  const key = JSON.stringify(o);
  if (cached?.key !== key) cached = { key, result: detectIsolation(o) };
  return cached.result;
}

/** The node attributes that tell the scheduler what this node's exec driver isolates. */
export function isolationAttributes(iso: Isolation): Record<string, string> {
  return {
    [ISOLATION_ATTRIBUTE]: iso.ok ? ISOLATED : "none",
    ...(iso.version ? { [BWRAP_VERSION_ATTRIBUTE]: iso.version } : {}),
  };
}

/** The probe for the exec plugin's config: the default task user's ids from passwd. */
export function probeFor(cfg: Pick<ExecConfig, "bwrap" | "chroot_env" | "user">, dataDir: string): Isolation {
  const user = readPasswd().get(cfg.user);
  const runAs = user && user.uid !== 0 ? { uid: user.uid, gid: user.gid } : undefined;
  return probeIsolation({ bwrap: cfg.bwrap, chrootEnv: cfg.chroot_env, dataDir, runAs });
}

/**
 * The task's command, when it names a host file by absolute path outside
 * chroot_env and the file may be shown to tasks (never one in the data dir,
 * /root, /home...): bound read-only into its sandbox (sandbox.ts).
 */
export function commandFile(command: string, iso: Isolation, dataDir: string): { path: string; real: string } | undefined {
  if (!iso.ok || !command.startsWith("/") || shared(iso.paths, command)) return undefined;
  try {
    const real = realpathSync(command);
    if (!statSync(real).isFile()) return undefined;
    if (refusedPath(command, dataDir) || refusedPath(real, dataDir)) return undefined;
    return { path: command, real };
  } catch {
    return undefined; // not there: the sandbox says so when it tries to run it
  }
}
