// The restart policy of a task (Nomad's client restart tracker), pure: the
// caller passes the time. Within one `interval` window a task may restart
// `attempts` times, `delay` apart. Past that, mode "fail" fails the task
// (the allocation fails and the leader's reschedule policy takes over) and
// mode "delay" waits for the window to end, then starts a fresh window.
import { formatDuration, type RestartPolicy } from "../../core/sdk/index.ts";

export type RestartDecision =
  | { kind: "restart"; delayMs: number; reason: string }
  | { kind: "fail"; reason: string }
  | { kind: "done" };

export class RestartTracker {
  private windowStart: number | undefined;
  private count = 0;

  constructor(private policy: RestartPolicy, private batch: boolean, saved?: { windowStart?: number; windowCount?: number }) {
    // An adopted task (agent restarted) keeps counting in the window it was in.
    if (saved?.windowStart !== undefined) {
      this.windowStart = saved.windowStart;
      this.count = saved.windowCount ?? 0;
    }
  }

  /**
   * An in-place update changed the group's restart policy: the next exit is
   * judged by the new one, counting in the current window (Nomad's
   * restart tracker SetPolicy).
   */
  setPolicy(policy: RestartPolicy): void {
    this.policy = policy;
  }

  /** The current window, to record (processes.ts). */
  get window(): { windowStart?: number; windowCount: number } {
    return { windowStart: this.windowStart, windowCount: this.count };
  }

  /** Restarts counted in the current window. */
  get attemptsInWindow(): number {
    return this.count;
  }

  /**
   * What to do after the task exited at `now`. A batch task that exited 0
   * is done; anything else (a service exiting, a failure, an OOM kill)
   * counts as a failure.
   */
  next(now: number, success: boolean): RestartDecision {
    if (success && this.batch) return { kind: "done" };
    const p = this.policy;
    if (this.windowStart === undefined || now - this.windowStart >= p.intervalMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    if (this.count <= p.attempts) {
      return { kind: "restart", delayMs: p.delayMs, reason: `restart ${this.count} of ${p.attempts} in this ${formatDuration(p.intervalMs)} window` };
    }
    if (p.mode === "fail") {
      return { kind: "fail", reason: `exceeded ${p.attempts} restarts in ${formatDuration(p.intervalMs)} (restart mode "fail")` };
    }
    const wait = Math.max(p.delayMs, this.windowStart + p.intervalMs - now);
    this.windowStart = undefined; // the next exit opens a fresh window
    return { kind: "restart", delayMs: wait, reason: `exceeded ${p.attempts} restarts; waiting for the window to end (restart mode "delay")` };
  }
}
