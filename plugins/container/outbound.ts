// The route out of an allocation's network (docs/containers.md "Network"):
// one slirp4netns per network namespace. It puts a tap device (tap0,
// 10.0.2.100/24, default route via 10.0.2.2) into the namespace and runs a
// userspace TCP/IP stack: what the container sends out leaves as the
// helper's own sockets on the node. So the node's firewall and sysctls
// (ip_forward) stay untouched. `--disable-host-loopback` keeps the node's
// loopback (10.0.2.2 → 127.0.0.1: the agent's API) out of reach.
//
// The helper runs detached in its own session, like the containers it
// serves: it outlives an agent restart, which takes it up again by the pid
// recorded in the allocation's state file, after checking that
// /proc/<pid>/cmdline still names slirp4netns and that namespace (a pid
// reused by another process is never signalled).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";

/** The node attribute saying containers in their own network have a route out, and by what. */
export const CONTAINER_OUTBOUND_ATTRIBUTE = "driver.container.outbound";

/** slirp's DNS forwarder, as the container sees it (it relays to the node's resolvers). */
export const SLIRP_DNS = "10.0.2.3";

const SEARCH = ["/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns", "/bin/slirp4netns"];

/** The slirp4netns binary of this node, or undefined. */
export function findSlirp(): string | undefined {
  return SEARCH.find((p) => existsSync(p));
}

/**
 * Whether containers get a route out: container_outbound as configured
 * (absent: when slirp4netns is found), and why not when asked for but
 * impossible.
 */
export function outboundSetting(configured: boolean | undefined, slirp: string | undefined): { path?: string; note?: string } {
  if (configured === false) return {};
  if (!slirp) return { note: configured ? "container_outbound = true but slirp4netns is not installed: containers in their own network have no route out" : "slirp4netns is not installed: containers in their own network have no route out (apt package slirp4netns)" };
  return { path: slirp };
}

/** The arguments of the helper for the namespace at `nsPath` (pure: also what the cmdline check looks for). */
export function slirpArgs(nsPath: string): string[] {
  return ["--configure", "--mtu=65520", "--disable-host-loopback", "--netns-type=path", nsPath, "tap0"];
}

/** Whether `pid` is a live slirp4netns serving `nsPath` (its cmdline, NUL-separated: argv[0] and the namespace's path). */
export function slirpServes(pid: number | undefined, nsPath: string): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 1) return false;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  return /(^|\/)slirp4netns$/.test(argv[0] ?? "") && argv.includes(nsPath);
}

/** Starts the helper for `nsPath`, detached (own session), its output to `logFile`; returns its pid. */
export function startSlirp(path: string, nsPath: string, logFile: string): number {
  const out = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(path, slirpArgs(nsPath), { detached: true, stdio: ["ignore", out, out] });
    child.unref();
    if (!child.pid) throw new Error(`${path} could not be started`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Resolves once the namespace has slirp's default route (it is set just before the helper serves), else throws. */
export async function slirpReady(ns: string, pid: number, nsPath: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync("ip", ["-n", ns, "-4", "route", "show", "default"], { encoding: "utf8", timeout: 10_000 });
    if (/dev tap0/.test(r.stdout ?? "")) return;
    if (!slirpServes(pid, nsPath)) throw new Error("slirp4netns exited before it set up the route out");
    if (Date.now() > until) throw new Error("slirp4netns did not set up the route out in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ends the helper `pid` if, and only if, it is the slirp4netns of `nsPath`. */
export function stopSlirp(pid: number | undefined, nsPath: string): boolean {
  if (!slirpServes(pid, nsPath)) return false;
  try {
    process.kill(pid!, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

/**
 * The container's /etc/resolv.conf with a route out: slirp's forwarder
 * (the node's own nameservers may be loopback ones, unreachable from the
 * container), the node's search and options lines kept.
 */
export function slirpResolvConf(hostResolvConf: string): string {
  const kept = hostResolvConf.split("\n").filter((l) => /^\s*(search|domain|options)\s/.test(l));
  return [`nameserver ${SLIRP_DNS}`, ...kept, ""].join("\n");
}
