// The host's users and the agent's own identity, read from the system (the
// I/O half of users.ts). Used by the exec driver and by exec health checks,
// so it is core's (through core/sdk), not one plugin's.
import { readFileSync } from "node:fs";
import { parsePasswd, type AgentIdentity, type PasswdEntry } from "./users.ts";

/** /etc/passwd, read each time (users added later are found); empty when unreadable: every named user is unknown. */
export function readPasswd(): Map<string, PasswdEntry> {
  try {
    return parsePasswd(readFileSync("/etc/passwd", "utf8"));
  } catch {
    return new Map();
  }
}

/** This process's uid, gid and user name (-1 where the platform has no uids). */
export function agentIdentity(): AgentIdentity {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  const name = [...readPasswd().values()].find((e) => e.uid === uid)?.name;
  return { uid, gid, ...(name ? { name } : {}) };
}
