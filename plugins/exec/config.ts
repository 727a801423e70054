// `[plugins.exec]` config: logs, cgroups, kill grace, memory watchdog, task users.
import { z } from "zod";
import { capabilitySet, DEFAULT_CAPABILITIES, durationMs, formatCapabilities, idRanges, sizeBytes } from "../../core/sdk/index.ts";
import { hostPatterns } from "./artifact-fetch.ts";

/**
 * What an isolated task sees of the host, read-only (Nomad's chroot_env,
 * minus all of /etc: only what programs need to run, resolve names and
 * trust certificates). Never the data dir, /root, /home or the host's /proc
 * (sandbox.ts refuses those whatever is listed).
 */
export const DEFAULT_CHROOT_ENV = [
  "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/usr",
  "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
  "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf",
  "/etc/services", "/etc/protocols", "/etc/localtime", "/etc/os-release", "/etc/mime.types",
];

const idRangeList = z.string().max(4096).default("").refine((t) => idRanges(t) !== undefined, "comma-separated ids or ranges, e.g. \"0-999,2000\"");

export const execConfigSchema = z
  .object({
    /** A task's stdout (or stderr) file is rotated past this size. */
    max_log_file_bytes: sizeBytes({ min: 1024, max: 1024 ** 3 }).prefault("10MiB"),
    /** Files kept per stream and task, the current one included. */
    max_log_files: z.number().int().min(1).max(100).default(5),
    /** Where cgroup v2 is mounted; "" never uses cgroups (the RSS watchdog enforces memory). */
    cgroup_root: z.string().max(1024).default("/sys/fs/cgroup"),
    /** Grace between SIGTERM and SIGKILL when a task is stopped. */
    kill_timeout: durationMs({ min: 0, max: 10 * 60_000 }).prefault("5s"),
    /** How often the watchdog samples task memory when cgroups are not used. */
    watchdog_interval: durationMs({ min: 50, max: 60_000 }).prefault("500ms"),
    /**
     * Run the http and tcp checks of job services here and report them to the
     * discovery plugin: true, false, or "auto" — only while the health plugin
     * (which runs every check of the node's services) is not enabled.
     */
    run_checks: z.union([z.boolean(), z.literal("auto")]).default("auto"),
    /**
     * The host user exec tasks run as when the job names none (the agent must
     * be root to switch). A user with uid 0 is refused: that is raw mode.
     */
    user: z.string().regex(/^[a-z_][a-z0-9_.\-]{0,31}$/, "a user name").default("nobody"),
    /**
     * Raw mode: let tasks run with the agent's own privileges (driver
     * "raw_exec", or user "root"), like Nomad's raw_exec. Such a task can read
     * the data dir and the cluster secret; its submitter also needs
     * operator:write. Off by default.
     */
    allow_raw: z.boolean().default(false),
    /**
     * Host uids and gids (primary group) exec tasks may never run as, e.g.
     * "0-999" for every system account: Nomad's denied_host_uids/gids.
     * Comma-separated ids or inclusive ranges; "" denies none (uid 0 is always refused).
     */
    denied_host_uids: idRangeList,
    denied_host_gids: idRangeList,
    /**
     * bubblewrap, which isolates exec tasks (sandbox.ts): own PID, mount, IPC
     * and UTS namespaces, only chroot_env and the task folder in view. ""
     * turns isolation off (driver.exec.isolation = "none").
     */
    bwrap: z.string().max(1024).refine((p) => p === "" || p.startsWith("/"), "an absolute path, or \"\"").default("/usr/bin/bwrap"),
    /** Host paths an isolated task sees, read-only; missing ones are skipped. */
    chroot_env: z.array(z.string().max(1024).refine((p) => p.startsWith("/"), "an absolute path")).max(256).default([...DEFAULT_CHROOT_ENV]),
    /** Largest artifact download, and the largest total an archive may unpack to (artifacts.ts). */
    artifact_max_bytes: sizeBytes({ min: 1024, max: 64 * 1024 ** 3 }).prefault("1GiB"),
    /** A whole artifact download (every redirect included) gives up after this long. */
    artifact_timeout: durationMs({ min: 1000, max: 24 * 3600_000 }).prefault("5m"),
    /**
     * Hosts artifacts may come from: comma-separated names, "*.example.com"
     * for subdomains; "" allows any. The agent fetches from its own network
     * position (SSRF): restrict this where that position reaches what jobs must not.
     */
    artifact_allowed_hosts: z.string().max(4096).default("").refine((t) => hostPatterns(t) !== undefined, "comma-separated host names or \"*.domain\" patterns"),
    /** Size bound of the node's artifact cache (content-addressed by checksum); least recently used go first. */
    artifact_cache_bytes: sizeBytes({ min: 0, max: 1024 ** 4 }).prefault("5GiB"),
    // ---- Interactive `alloc exec` sessions over a WebSocket (exec-ws.ts, docs/exec.md).
    /** Sessions open at once on this node (run here or relayed through it); one more is refused with 429. */
    exec_max_sessions: z.number().int().min(1).max(10_000).default(32),
    /** Largest frame a client may send in a session; a larger one ends it (close code 1009). */
    exec_max_frame_bytes: sizeBytes({ min: 1024, max: 16 * 1024 ** 2 }).prefault("64KiB"),
    // ---- The container driver (docs/containers.md).
    /** The OCI runtime: "" finds runc or crun in the usual places; else its absolute path. */
    container_runtime: z.string().max(1024).refine((p) => p === "" || p.startsWith("/"), "an absolute path, or \"\"").default(""),
    /** Credentials by registry ("host:port" as images name it): basic auth, and for a registry's token service. */
    container_auth: z.record(z.string().max(256), z.strictObject({ username: z.string().max(256), password: z.string().max(4096) })).default({}),
    /** Registries reached over plain http (every other one over https only). */
    container_insecure_registries: z.array(z.string().max(256)).max(256).default([]),
    /** Registries images may come from ("host:port" as images name it); [] allows any. */
    container_allowed_registries: z.array(z.string().max(256)).max(256).default([]),
    /** Size bound of the node's image blob store (layers, configs, manifests by digest); least recently used go first. */
    container_cache_bytes: sizeBytes({ min: 0, max: 1024 ** 4 }).prefault("10GiB"),
    /** Blobs unused for longer go at the next start's trim, whatever the store's size; "0s": no age bound. */
    container_cache_max_age: durationMs({ min: 0, max: 10 * 365 * 24 * 3600_000 }).prefault("0s"),
    /** Size bound of the unpacked images (one root file system per image); least recently used go first, never one in use. */
    container_images_bytes: sizeBytes({ min: 0, max: 1024 ** 4 }).prefault("20GiB"),
    /** Largest total an image may unpack to. */
    container_max_unpacked_bytes: sizeBytes({ min: 1024 * 1024, max: 1024 ** 4 }).prefault("8GiB"),
    /**
     * Whether tasks may ask for `privileged = true` (every capability, no
     * seccomp, the node's devices: root in such a container is root on the
     * node). Off: such tasks are not placed here (the node does not report
     * driver.container.privileged) and the driver refuses them.
     */
    container_allow_privileged: z.boolean().default(false),
    /**
     * The capabilities a container task may end up with after its cap_add /
     * cap_drop (Nomad's allow_caps): names as "net_admin" or "CAP_NET_ADMIN",
     * or "all". Default: the default set, so cap_add of anything else is
     * refused until listed here.
     */
    container_allow_caps: z.array(z.string().max(64)).max(64)
      .default(DEFAULT_CAPABILITIES.map((c) => formatCapabilities([c])))
      .superRefine((names, ctx) => {
        try {
          capabilitySet(names);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: (err as Error).message });
        }
      }),
    /**
     * Whether containers in their allocation's own network get a route out
     * (a slirp4netns per allocation: user-mode networking, the node's
     * firewall and sysctls untouched, its loopback out of reach). Absent:
     * on when slirp4netns is installed. false: no route out (the veth /30
     * to the node only).
     */
    container_outbound: z.boolean().optional(),
    /** A whole pull (manifests and every layer) gives up after this long. */
    container_pull_timeout: durationMs({ min: 1000, max: 24 * 3600_000 }).prefault("10m"),
  })
  .strict();

export type ExecConfig = z.output<typeof execConfigSchema>;
