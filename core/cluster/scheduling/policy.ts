// Pure policies of the leader: when a failed allocation may be replaced
// elsewhere (reschedule), and when an allocation counts as healthy
// (rolling updates, drains). Time is a parameter, never read here.
import type { AllocRow } from "../../store/schema-jobs.ts";
import { runsToCompletion, type ReschedulePolicy, type UpdateStrategy } from "../../scheduler/index.ts";
import { formatDuration } from "../../config/duration.ts";

export type RescheduleDecision =
  | { kind: "now"; reschedules: number[] }
  | { kind: "later"; at: number }
  | { kind: "never"; reason: string };

/**
 * Nomad's reschedule policy with a constant delay: a failed allocation is
 * replaced `delay` after it failed, as long as fewer than `attempts`
 * reschedules happened within the last `interval` (or `unlimited`). The
 * history travels with the replacement (`reschedules`), so it survives the
 * old allocation being garbage-collected.
 */
export function rescheduleDecision(a: Pick<AllocRow, "reschedules" | "modifiedAt">, policy: ReschedulePolicy, now: number): RescheduleDecision {
  const recent = policy.unlimited ? a.reschedules.slice(-100) : a.reschedules.filter((t) => t > now - policy.intervalMs);
  if (!policy.unlimited && recent.length >= policy.attempts) {
    return { kind: "never", reason: `reschedule policy exhausted (${policy.attempts} attempts in ${formatDuration(policy.intervalMs)})` };
  }
  const at = a.modifiedAt + policy.delayMs;
  if (now < at) return { kind: "later", at };
  return { kind: "now", reschedules: [...recent, now] };
}

export type HealthVerdict = { healthy: boolean; description: string } | undefined;

/**
 * Health of an allocation for deployments and drains (Nomad's
 * allocation health watcher, decided here on the leader): healthy once every
 * task has run for min_healthy_time and every service check the catalog
 * holds for it passes; unhealthy when it failed or is not healthy by
 * healthy_deadline (counted from placement). undefined: not decided yet.
 * Task start times come from the agent's clock; clock skew between agent
 * and leader shifts min_healthy_time by that much.
 */
export function allocHealth(a: Omit<AllocRow, "groupSpec">, checkStatuses: readonly string[], now: number, update: UpdateStrategy): HealthVerdict {
  if (a.health !== "" || a.desiredStatus === "stop") return undefined;
  if (a.clientStatus === "failed" || a.clientStatus === "lost") return { healthy: false, description: `allocation ${a.clientStatus}` };
  if (a.clientStatus === "complete") {
    return runsToCompletion(a.jobType) ? { healthy: true, description: "completed" } : { healthy: false, description: "task exited" };
  }
  if (a.clientStatus === "running") {
    const tasks = Object.values(a.taskStates);
    const running = tasks.length > 0 && tasks.every((t) => t.state === "running");
    const since = Math.max(0, ...tasks.map((t) => t.startedAt));
    const checksPass = checkStatuses.every((s) => s === "passing");
    if (running && checksPass && now - since >= update.minHealthyTimeMs) {
      return { healthy: true, description: checkStatuses.length ? `running ${formatDuration(now - since)}, ${checkStatuses.length} checks passing` : `running ${formatDuration(now - since)}` };
    }
  }
  if (now - a.createdAt > update.healthyDeadlineMs) {
    return { healthy: false, description: `not healthy within healthy_deadline (${formatDuration(update.healthyDeadlineMs)})` };
  }
  return undefined;
}

/** Running and past its health gate: what max_parallel waits for before the next replacement. */
export function settled(a: AllocRow): boolean {
  if (a.clientStatus !== "running" && a.clientStatus !== "complete") return false;
  // system allocations get no health verdict (no deployment): running is as far as they go.
  return runsToCompletion(a.jobType) || a.jobType === "system" || a.health === "healthy";
}
