// The pure halves of exec isolation: the bwrap command line (sandbox.ts),
// which paths are never shared, the per-task decision (task-sandbox.ts),
// the placement rule (core/scheduler/isolation.ts) and the jobspec keys.
import { describe, expect, test } from "bun:test";
import { ancestors, chrootMounts, refusedPath, sandboxCommand, type HostPath } from "../../plugins/exec/sandbox.ts";
import { taskSandbox } from "../../plugins/exec/task-sandbox.ts";
import { isolationRequirement, needsIsolation } from "../../core/scheduler/isolation.ts";
import { pgidOfStat } from "../../plugins/exec/group-signal.ts";
import { validateJob as parseJob } from "../../core/scheduler/jobspec.ts";

const tools = { bwrap: "/usr/bin/bwrap" };
const paths: HostPath[] = [
  { path: "/usr", kind: "dir" },
  { path: "/bin", kind: "symlink", link: "usr/bin", real: "/usr/bin", realKind: "dir" },
  { path: "/etc/resolv.conf", kind: "symlink", link: "/run/systemd/resolve/stub-resolv.conf", real: "/run/systemd/resolve/stub-resolv.conf", realKind: "file" },
  { path: "/lib32", kind: "missing" },
  { path: "/etc/passwd", kind: "file" },
];
const task = { name: "t", driver: "exec" as const, command: "/bin/sh", args: ["-c", "echo $HOME; rm -rf /"], env: {}, resources: { cpuMhz: 1, memoryMb: 1 }, ports: {} };

describe("sandbox command line", () => {
  test("namespaces, an empty read-only root, chroot_env read-only, the task folder the only writable bind, the task's own uid mapped in a user namespace; job text only after --", () => {
    const { command, args } = sandboxCommand({ tools, paths, taskDir: "/var/lib/corral/exec/allocs/a/tasks/t", runAs: { uid: 65534, gid: 65534 }, network: "host", command: task.command, args: task.args });
    expect(command).toBe("/usr/bin/bwrap");
    for (const flag of ["--unshare-pid", "--unshare-ipc", "--unshare-uts"]) expect(args).toContain(flag);
    expect(args).not.toContain("--unshare-net");
    expect(args).not.toContain("--die-with-parent"); // tasks outlive the agent
    expect(args).not.toContain("--new-session"); // the task stays in the group the agent signals
    expect(args.slice(0, args.indexOf("--tmpfs"))).not.toContain("--bind");
    const sep = args.indexOf("--");
    const sandboxArgs = args.slice(0, sep);
    // Writable binds: only the task folder.
    const rw = sandboxArgs.flatMap((a, i) => (a === "--bind" ? [sandboxArgs[i + 2]] : []));
    expect(rw).toEqual(["/var/lib/corral/exec/allocs/a/tasks/t"]);
    expect(sandboxArgs.join(" ")).toContain("--ro-bind /usr /usr --symlink usr/bin /bin --ro-bind /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf --ro-bind /etc/passwd /etc/passwd");
    expect(sandboxArgs.join(" ")).toContain("--proc /proc --dev /dev --perms 1777 --tmpfs /tmp");
    expect(sandboxArgs.join(" ")).toContain("--perms 0111 --dir /var --perms 0111 --dir /var/lib");
    expect(sandboxArgs).toContain("--remount-ro");
    expect(sandboxArgs.join(" ")).toStartWith("--unshare-user --uid 65534 --gid 65534 --disable-userns ");
    expect(args.slice(sep + 1)).toEqual(["/bin/sh", "-c", "echo $HOME; rm -rf /"]);
  });

  test("network none unshares the network; a command file outside chroot_env is bound read-only", () => {
    const { args } = sandboxCommand({ tools, paths, taskDir: "/d/t", runAs: { uid: 1, gid: 1 }, network: "none", command: "/opt/x/bin/app", args: [], commandFile: { path: "/opt/x/bin/app", real: "/opt/x/app-1.2" } });
    expect(args).toContain("--unshare-net");
    expect(args.join(" ")).toContain("--ro-bind /opt/x/app-1.2 /opt/x/bin/app");
  });

  test("chroot mounts: missing skipped, links to shared places stay links", () => {
    expect(chrootMounts([{ path: "/lib32", kind: "missing" }])).toEqual([]);
    expect(ancestors("/a/b/c")).toEqual(["/a", "/a/b"]);
  });

  test("never shared: the data dir (either way), /, /root, /home, /proc, relative paths", () => {
    const dd = "/srv/corral/data";
    expect(refusedPath("/usr", dd)).toBeUndefined();
    expect(refusedPath("/etc/ssl", dd)).toBeUndefined();
    for (const p of ["/", "/srv", "/srv/corral", "/srv/corral/data/exec", "/root", "/root/.ssh", "/home/u", "/proc", "/sys/fs", "/run/secrets", "/var/lib", "usr", "/usr/../root"]) {
      expect(refusedPath(p, dd), p).toBeString();
    }
  });
});

describe("per-task decision", () => {
  const iso = { ok: true as const, tools, paths, version: "0.8.0", warnings: [] };
  const none = { ok: false as const, reason: "bwrap not found", warnings: [] };
  const nobody = { ok: true as const, raw: false, name: "nobody", switchTo: { uid: 65534, gid: 65534 } };
  const raw = { ok: true as const, raw: true, name: "root" };
  test("isolated where the node can; raw never; required (or network none) refused where it cannot", () => {
    expect(taskSandbox(iso, task, "/d/t", nobody).kind).toBe("isolated");
    expect(taskSandbox(iso, { ...task, driver: "raw_exec" }, "/d/t", raw).kind).toBe("plain");
    expect(taskSandbox(none, task, "/d/t", nobody).kind).toBe("plain");
    const r = taskSandbox(none, { ...task, isolation: "required" }, "/d/t", nobody);
    expect(r).toEqual({ kind: "refused", error: "the task requires isolation and this node cannot isolate: bwrap not found" });
    expect(taskSandbox(none, { ...task, networkMode: "none" }, "/d/t", nobody).kind).toBe("refused");
  });

  test("placement rule", () => {
    expect(needsIsolation(task)).toBe(false);
    expect(needsIsolation({ ...task, isolation: "required" })).toBe(true);
    expect(needsIsolation({ ...task, networkMode: "none" })).toBe(true);
    expect(needsIsolation({ ...task, driver: "raw_exec", isolation: "required" })).toBe(false);
    // A container's network_mode "none" is its OCI runtime's namespace, not the exec sandbox's.
    expect(needsIsolation({ ...task, driver: "container", networkMode: "none" })).toBe(false);
    expect(isolationRequirement([task])).toBeUndefined();
    expect(isolationRequirement([task, { ...task, name: "db", isolation: "required" }])?.reason).toContain("task db requires isolation");
  });

  test("process group from a stat line with spaces and parentheses in the command", () => {
    expect(pgidOfStat("1234 (a b) c)) S 1 777 777 0 -1")).toBe(777);
  });
});

describe("jobspec keys", () => {
  const job = (t: Record<string, unknown>) => ({ id: "j", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", ...t }] }] });
  test("isolation and network_mode are carried; wrong values and raw_exec combinations are errors", () => {
    const ok = parseJob(job({ isolation: "required", network_mode: "none" }) as any);
    expect(ok.ok && ok.job.groups[0]!.tasks[0]).toMatchObject({ isolation: "required", networkMode: "none" });
    const plain = parseJob(job({}) as any);
    expect(plain.ok && "isolation" in plain.job.groups[0]!.tasks[0]!).toBe(false);
    for (const bad of [{ isolation: "maybe" }, { network_mode: "bridge" }, { driver: "raw_exec", network_mode: "none" }, { isolation: "best-effort", network_mode: "none" }]) {
      expect(parseJob(job(bad) as any).ok, JSON.stringify(bad)).toBe(false);
    }
  });
});
