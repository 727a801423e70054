// Test helpers for the containers' route out (plugins/container/outbound.ts):
// which slirp4netns processes serve an allocation's namespace (read from
// /proc, as a user would with ps), and the clean-up of those a killed
// test node left (only the pids its own state files name, after the same
// cmdline check the agent makes).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stopSlirp } from "../../plugins/container/outbound.ts";

/** Why the route-out tests cannot run here, or undefined. */
export function slirpMissing(): string | undefined {
  return spawnSync("slirp4netns", ["--version"]).status === 0 ? undefined : "slirp4netns is not installed (apt package slirp4netns)";
}

/** Pids of the slirp4netns processes whose command line names the allocation's namespace. */
export function slirpsOf(allocId: string): number[] {
  const nsPath = `/run/netns/corral-${allocId}`;
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (/(^|\/)slirp4netns$/.test(argv[0] ?? "") && argv.includes(nsPath)) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** Kills the slirp4netns processes the node's state files (<data_dir>/container/net/*.json) record. */
export function endSlirps(dataDir: string): void {
  const net = join(dataDir, "container", "net");
  for (const f of existsSync(net) ? readdirSync(net) : []) {
    if (!f.endsWith(".json")) continue;
    try {
      const rec = JSON.parse(readFileSync(join(net, f), "utf8")) as { slirpPid?: number; nsPath?: string };
      if (rec.nsPath) stopSlirp(rec.slirpPid, rec.nsPath);
    } catch {}
  }
}

/** The node's first global IPv4 address that is not a container network's (10.213.0.0/16 veths), or undefined. */
export function nodeAddress(): string | undefined {
  const r = spawnSync("ip", ["-o", "-4", "addr", "show", "scope", "global"], { encoding: "utf8" });
  for (const m of (r.stdout ?? "").matchAll(/^\d+:\s+(\S+)\s+inet\s+([0-9.]+)\//gm)) {
    if (/^(crl|veth|tap)/.test(m[1]!) || m[2]!.startsWith("10.213.")) continue;
    return m[2];
  }
  return undefined;
}
