// Session TTL timers, on the active Raft leader only (Consul's
// session_ttl.go). A session with a TTL is valid for at least its TTL after
// each create or renew and is invalidated by twice its TTL: the leader
// proposes SessionDestroy when the timer fires. Renewals reset the timer
// and are not logged (nothing in the state changes). A new leader knows
// no renewal times, so it gives every session a full 2×TTL again, as
// Consul does; a leader that steps down drops its timers.
import type { Logger } from "../log.ts";
import type { AppliedEntry } from "../state/fsm.ts";
import type { Command } from "../state/commands.ts";
import type { SessionRow } from "../store/schema.ts";
import { parseGoDuration } from "../config/duration.ts";

/** Consul's SessionTTLMultiplier. */
export const SESSION_TTL_MULTIPLIER = 2;

export interface SessionTimersDeps {
  listSessions(): SessionRow[];
  getSession(id: string): SessionRow | undefined;
  propose(cmd: Command): Promise<unknown>;
  isLeader(): boolean;
  log: Logger;
}

export class SessionTimers {
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  private leader = false;

  constructor(private d: SessionTimersDeps) {}

  /** Called on every leadership change (and once at start). */
  leadershipChanged(isLeader: boolean): void {
    this.clearAll();
    this.leader = isLeader;
    if (!isLeader) return;
    for (const s of this.d.listSessions()) this.reset(s);
  }

  /** Applied entries: start a created session's timer, drop a destroyed one's. */
  applied(entry: AppliedEntry): void {
    const c = entry.command;
    if (c.type === "SessionCreate" && entry.result.ok && this.leader) {
      const s = this.d.getSession(c.session.id);
      if (s) this.reset(s);
    } else if (c.type === "SessionDestroy" || c.type === "RestoreState") {
      if (c.type === "RestoreState") this.leadershipChanged(this.d.isLeader());
      else this.clear(c.id);
    } else if (this.timers.size > 0 && entry.result.ok) {
      // Health invalidations happen inside other entries: drop timers of sessions that are gone.
      if (c.type === "SetNodeStatus" || c.type === "DeregisterNode" || c.type.includes("Check") || c.type.startsWith("Catalog") || c.type === "SyncNodeServices") {
        for (const id of [...this.timers.keys()]) if (!this.d.getSession(id)) this.clear(id);
      }
    }
  }

  /**
   * PUT /v1/session/renew: the session as it is now, with its timer reset,
   * or undefined when it does not exist. Only the active leader renews.
   */
  renew(id: string): SessionRow | undefined {
    const s = this.d.getSession(id);
    if (!s) return undefined;
    this.reset(s);
    return s;
  }

  isLeader(): boolean {
    return this.leader && this.d.isLeader();
  }

  /** Timers running (tests, /v1/agent/self). */
  count(): number {
    return this.timers.size;
  }

  stop(): void {
    this.clearAll();
    this.leader = false;
  }

  private reset(s: SessionRow): void {
    this.clear(s.id);
    if (!this.leader || !s.ttl) return;
    const ttl = parseGoDuration(s.ttl);
    if (!ttl) return;
    const t = setTimeout(() => void this.expire(s.id), ttl * SESSION_TTL_MULTIPLIER);
    (t as { unref?: () => void }).unref?.();
    this.timers.set(s.id, t);
  }

  private async expire(id: string): Promise<void> {
    this.timers.delete(id);
    if (!this.leader || !this.d.isLeader()) return;
    try {
      await this.d.propose({ type: "SessionDestroy", v: 1, at: Date.now(), id, reason: "ttl" });
      this.d.log.info("session expired", { session: id });
    } catch (err) {
      // Lost leadership meanwhile: the next leader restarts the timer from its full TTL.
      this.d.log.warn("session expiry not committed", { session: id, err });
    }
  }

  private clear(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
