// Who a task runs as. Pure: the caller reads /etc/passwd and its own uid.
//
// A root agent runs every exec task as an unprivileged host user: the task's
// `user`, else `[plugins.exec] user` ("nobody"), like Nomad's exec driver. It
// then reaches only its own task folder in the data dir (data-dir-modes.ts) and none
// of the agent's secrets.
//
// Raw mode is running with the agent's own privileges: the raw_exec driver
// (no user switch), or `user = "root"`. It needs `[plugins.exec] allow_raw`
// on the node, and the submitter needed operator:write (core/scheduler/raw.ts).
// Every other way to those privileges is refused here: a user whose uid is 0
// under another name, and the exec driver on an agent that is not root (it
// cannot switch users, so the task would be raw without saying so).
import { isRawTask, ROOT_USER } from "../scheduler/raw.ts";
import type { Task } from "../scheduler/jobspec/types.ts";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** /etc/passwd as name → entry (malformed lines skipped). */
export function parsePasswd(text: string): Map<string, PasswdEntry> {
  const out = new Map<string, PasswdEntry>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === "" || f[3] === "") continue;
    if (!out.has(f[0])) out.set(f[0], { name: f[0], uid, gid, home: f[5] ?? "" });
  }
  return out;
}

export interface AgentIdentity {
  /** The agent process's uid and gid (process.getuid()). */
  uid: number;
  gid: number;
  /** Its user name, when passwd knows it (for USER in raw tasks). */
  name?: string;
}

export interface UserPolicy {
  /** `[plugins.exec] user`: the exec driver's default. */
  defaultUser: string;
  /** `[plugins.exec] allow_raw`. */
  allowRaw: boolean;
  /** `[plugins.exec] denied_host_uids` / `denied_host_gids` (Nomad's), parsed by idRanges. */
  deniedUids?: IdRange[];
  deniedGids?: IdRange[];
}

/** An inclusive range of uids or gids. */
export type IdRange = readonly [number, number];

/** Nomad's "0-999,2000" syntax: comma-separated ids or inclusive ranges; undefined when malformed. */
export function idRanges(text: string): IdRange[] | undefined {
  if (text.trim() === "") return [];
  const out: IdRange[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d{1,10})(?:\s*-\s*(\d{1,10}))?\s*$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    out.push([lo, hi]);
  }
  return out;
}

const inRanges = (id: number, ranges: readonly IdRange[] | undefined) => (ranges ?? []).some(([lo, hi]) => id >= lo && id <= hi);

/** How to start a task: as whom, or why not. `switchTo` is undefined when the task keeps the agent's uid (raw). */
export type TaskIdentity =
  | { ok: true; raw: boolean; name: string; switchTo?: { uid: number; gid: number } }
  | { ok: false; error: string };

export function taskIdentity(task: Pick<Task, "driver" | "user">, agent: AgentIdentity, policy: UserPolicy, passwd: ReadonlyMap<string, PasswdEntry>): TaskIdentity {
  const agentName = agent.name ?? `uid ${agent.uid}`;
  if (isRawTask(task)) {
    if (!policy.allowRaw) {
      return { ok: false, error: `raw mode (${task.driver === "raw_exec" ? "driver raw_exec" : `user "${ROOT_USER}"`}) is off on this node: [plugins.exec] allow_raw = false` };
    }
    if (task.driver === "raw_exec") return { ok: true, raw: true, name: agentName };
    // user = "root": only a root agent can be root.
    if (agent.uid !== 0) return { ok: false, error: `user "${ROOT_USER}" needs an agent running as root; this one runs as ${agentName}` };
    return { ok: true, raw: true, name: ROOT_USER };
  }
  if (agent.uid !== 0) {
    return { ok: false, error: `the exec driver runs tasks as another user and needs an agent running as root (this one runs as ${agentName}); use driver "raw_exec" (raw mode) on such nodes` };
  }
  const wanted = task.user ?? policy.defaultUser;
  const entry = passwd.get(wanted);
  if (!entry) return { ok: false, error: `user "${wanted}" does not exist on this node` };
  if (entry.uid === 0 || entry.uid === agent.uid) {
    return { ok: false, error: `user "${wanted}" has uid ${entry.uid}, the agent's own privileges: that is raw mode, which needs user "${ROOT_USER}" or driver "raw_exec"` };
  }
  if (entry.gid === 0) return { ok: false, error: `user "${wanted}" has primary group 0 (root's)` };
  if (inRanges(entry.uid, policy.deniedUids)) return { ok: false, error: `user "${wanted}" (uid ${entry.uid}) is denied on this node ([plugins.exec] denied_host_uids)` };
  if (inRanges(entry.gid, policy.deniedGids)) return { ok: false, error: `user "${wanted}" (gid ${entry.gid}) is denied on this node ([plugins.exec] denied_host_gids)` };
  return { ok: true, raw: false, name: entry.name, switchTo: { uid: entry.uid, gid: entry.gid } };
}

/**
 * Who exec (Args) health checks run as: `user` when the agent is root (never
 * uid 0), else the agent itself (it cannot switch; turning exec checks on is
 * then the operator's explicit choice, like raw mode).
 */
export function checkIdentity(user: string, agent: AgentIdentity, passwd: ReadonlyMap<string, PasswdEntry>): TaskIdentity {
  if (agent.uid !== 0) return { ok: true, raw: true, name: agent.name ?? `uid ${agent.uid}` };
  const entry = passwd.get(user);
  if (!entry) return { ok: false, error: `exec_check_user "${user}" does not exist on this node` };
  if (entry.uid === 0 || entry.gid === 0) return { ok: false, error: `exec_check_user "${user}" has uid or gid 0: exec checks never run as root` };
  return { ok: true, raw: false, name: entry.name, switchTo: { uid: entry.uid, gid: entry.gid } };
}
