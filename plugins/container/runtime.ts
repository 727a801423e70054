// The OCI runtime on this node (runc or crun, from the distribution),
// found once at start and fingerprinted into the node's registration as
// driver.container.runtime / driver.container.version: container tasks are
// placed only where one was found (core/scheduler/container.ts).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import {
  capabilitySet, CONTAINER_CAPS_ATTRIBUTE, CONTAINER_PRIVILEGED_ATTRIBUTE, CONTAINER_RUNTIME_ATTRIBUTE, CONTAINER_VERSION_ATTRIBUTE, formatCapabilities,
} from "../../core/sdk/index.ts";
import { CONTAINER_OUTBOUND_ATTRIBUTE } from "./outbound.ts";

export interface Runtime {
  path: string;
  name: string; // "runc" | "crun" | the file's name
  version: string;
}

const SEARCH = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc", "/usr/bin/crun", "/usr/local/bin/crun"];

/** The configured runtime ("" = the first of runc, crun in the usual places), or why there is none. */
export function findRuntime(configured: string): Runtime | { error: string } {
  const candidates = configured === "" ? SEARCH.filter((p) => existsSync(p)) : [configured];
  if (candidates.length === 0) return { error: "no OCI runtime found (install runc or crun)" };
  const path = candidates[0]!;
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) return { error: `${path} --version failed: ${r.error?.message ?? r.stderr.trim()}` };
  // "runc version 1.1.5+ds1" / "crun version 1.8.1"
  const m = /^(\S+) version (\S+)/m.exec(r.stdout);
  return { path, name: m?.[1] ?? path.split("/").at(-1)!, version: m?.[2] ?? "unknown" };
}

/** What the agent's config lets container tasks have (container_allow_privileged, container_allow_caps). */
export interface ContainerSecurityConfig {
  allowPrivileged: boolean;
  allowCaps: readonly string[];
  /** Whether containers in their own network get a route out (container_outbound and slirp4netns found). */
  outbound?: boolean;
}

export function runtimeAttributes(rt: Runtime | { error: string }, agentIsRoot: boolean, sec: ContainerSecurityConfig): Record<string, string> {
  // runc needs root (no rootless containers here): a non-root agent reports none.
  if ("error" in rt || !agentIsRoot) return {};
  return {
    [CONTAINER_RUNTIME_ATTRIBUTE]: rt.name,
    [CONTAINER_VERSION_ATTRIBUTE]: rt.version,
    // What the scheduler places by (core/scheduler/container.ts): privileged tasks only where allowed, added capabilities only where listed.
    [CONTAINER_CAPS_ATTRIBUTE]: formatCapabilities(capabilitySet(sec.allowCaps)),
    ...(sec.allowPrivileged ? { [CONTAINER_PRIVILEGED_ATTRIBUTE]: "true" } : {}),
    ...(sec.outbound ? { [CONTAINER_OUTBOUND_ATTRIBUTE]: "slirp4netns" } : {}),
  };
}
