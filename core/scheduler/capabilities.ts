// Linux capabilities of container tasks, pure: the names a job or an agent
// config may use, the default set a container gets, and the set a task ends
// up with after its cap_add / cap_drop (Nomad's docker driver semantics).
// Shared by the job schema (names checked at submission), the scheduler
// (a node's `container_allow_caps`, fingerprinted, must cover a task's set)
// and the container driver (which checks again before it runs anything).

/** Every capability of Linux 5.9+ (include/uapi/linux/capability.h), in number order. */
export const LINUX_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
] as const;

const KNOWN = new Set<string>(LINUX_CAPABILITIES);

/**
 * What a container gets by default: Docker's default set without NET_RAW
 * (a container may share the node's network: no raw sockets on it) and
 * MKNOD (the runtime makes /dev). Also the default of `container_allow_caps`.
 */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID",
  "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

/** The node attribute listing the capabilities its agent allows (lowercase, without CAP_, comma-separated). */
export const CONTAINER_CAPS_ATTRIBUTE = "driver.container.caps";
/** The node attribute saying its agent allows privileged containers ("true"; absent otherwise). */
export const CONTAINER_PRIVILEGED_ATTRIBUTE = "driver.container.privileged";

/**
 * "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" are one capability (Docker
 * and Nomad accept all three): its canonical "CAP_NET_ADMIN", "ALL" for
 * "all", undefined for a name Linux does not have.
 */
export function canonicalCapability(name: string): string | undefined {
  const up = name.trim().toUpperCase();
  if (up === "ALL") return "ALL";
  const full = up.startsWith("CAP_") ? up : `CAP_${up}`;
  return KNOWN.has(full) ? full : undefined;
}

/** A list of names, canonical, "ALL" expanded to every capability; throws naming the first unknown one. */
export function capabilitySet(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const c = canonicalCapability(n);
    if (c === undefined) throw new Error(`unknown capability ${JSON.stringify(n)} (Linux names such as "net_admin" or "CAP_NET_ADMIN", or "all")`);
    if (c === "ALL") LINUX_CAPABILITIES.forEach((x) => out.add(x));
    else out.add(c);
  }
  return [...out];
}

/** A task's capabilities: the default set, minus cap_drop, plus cap_add (an add wins over a drop, as Docker's). */
export function effectiveCapabilities(add: readonly string[] = [], drop: readonly string[] = []): string[] {
  const dropped = new Set(capabilitySet(drop));
  const out = DEFAULT_CAPABILITIES.filter((c) => !dropped.has(c));
  for (const c of capabilitySet(add)) if (!out.includes(c)) out.push(c);
  return out;
}

/** The capabilities of `wanted` that `allowed` lacks (empty: allowed). */
export function capabilitiesNotAllowed(wanted: readonly string[], allowed: readonly string[]): string[] {
  const ok = new Set(allowed);
  return wanted.filter((c) => !ok.has(c));
}

/** The attribute value of an allowed set: "chown,kill,…" (Nomad's allow_caps spelling). */
export function formatCapabilities(caps: readonly string[]): string {
  return caps.map((c) => c.replace(/^CAP_/, "").toLowerCase()).join(",");
}

/** The allowed set a node's attribute names; an agent that reports none (an older one) allows the default set. */
export function parseCapabilitiesAttribute(value: string | undefined): string[] {
  if (value === undefined) return [...DEFAULT_CAPABILITIES];
  if (value === "") return [];
  try {
    return capabilitySet(value.split(","));
  } catch {
    return [...DEFAULT_CAPABILITIES];
  }
}
