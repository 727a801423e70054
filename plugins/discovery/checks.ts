// Check state changes on the owning agent: TTL timers (no update within TTL
// → critical, "TTL expired"), updates from the agent endpoints and from other
// plugins (the health plugin running http/tcp checks publishes results on
// "discovery.check.result"), and the reaper of DeregisterCriticalServiceAfter.
// A status change is written to the catalog at once; an output-only change
// waits for the next full sync (Consul defers those too: reference B5).
// Every (re)definition and removal of a check is also announced to the
// plugins that run http/tcp/script checks (`notify`, topics.ts).
import type { CheckStatus, TimerHandle } from "../../core/sdk/index.ts";
import type { LocalCheck, LocalRegistry, StatusChange } from "./local.ts";
import type { CatalogSync } from "./sync.ts";
import { RUNNABLE_TYPES, type LocalCheckInfo, type LocalChecksEvent } from "./topics.ts";

export interface CheckRunnerDeps {
  registry: LocalRegistry;
  sync: CatalogSync;
  now(): number;
  /** The plugin's ctx.after: a rejected promise from `fn` reaches the host (plugin marked failed). */
  after(ms: number, fn: () => Promise<unknown>): TimerHandle;
  /** Tells check runners (the health plugin) what to run: LOCAL_CHECKS_TOPIC. */
  notify?(event: LocalChecksEvent): void;
  /** Persists the registry a little later (coalesced): for results of runners, which may come by the thousand. */
  saveSoon?(): void;
}

export function checkInfo(c: LocalCheck): LocalCheckInfo {
  return { id: c.spec.id, serviceId: c.spec.serviceId, type: c.spec.type, status: c.status, definition: c.spec.definition };
}

export const TTL_EXPIRED_OUTPUT = "TTL expired";

export class CheckRunner {
  private timers = new Map<string, TimerHandle>();

  constructor(private d: CheckRunnerDeps) {}

  /** (Re)starts the TTL window of a TTL check, or hands a runnable check (http, tcp, script) to its runner. */
  arm(id: string, announce = true): void {
    this.clearTimer(id);
    const c = this.d.registry.check(id);
    if (!c) return;
    // A check that is no longer runnable (re-registered as TTL under the same ID) leaves its runner.
    if (announce) this.d.notify?.(RUNNABLE_TYPES.has(c.spec.type) ? { op: "put", check: checkInfo(c) } : { op: "remove", id });
    if (c.spec.type !== "ttl" || !c.spec.ttlMs) return;
    this.timers.set(id, this.d.after(c.spec.ttlMs, () => {
      this.timers.delete(id);
      return this.set(id, "critical", TTL_EXPIRED_OUTPUT, false);
    }));
  }

  /** The check is gone: no more TTL window, no more runs. */
  disarm(id: string): void {
    this.clearTimer(id);
    this.d.notify?.({ op: "remove", id });
  }

  private clearTimer(id: string): void {
    this.timers.get(id)?.cancel();
    this.timers.delete(id);
  }

  /** A restarted agent gives every TTL check a fresh window (as Consul does); runners get the full set. */
  armAll(): void {
    for (const c of this.d.registry.allChecks()) this.arm(c.spec.id, false);
    this.announceAll();
  }

  /** The full set of runnable checks, to a runner that (re)started. */
  announceAll(): void {
    const checks: LocalCheckInfo[] = [];
    for (const c of this.d.registry.allChecks()) if (RUNNABLE_TYPES.has(c.spec.type)) checks.push(checkInfo(c));
    this.d.notify?.({ op: "reset", checks });
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.d.notify?.({ op: "reset", checks: [] });
  }

  /**
   * Records a result and persists it; `resetTtl` restarts a TTL window (a
   * pass/warn/fail/update call does, an expiry does not); `saveNow` false
   * coalesces the file write (runners' results). Resolves once a status
   * change reached the catalog (or failed and was queued for resync).
   */
  async set(id: string, status: CheckStatus, output: string, resetTtl = true, saveNow = true): Promise<StatusChange> {
    const change = this.d.registry.setStatus(id, status, output, this.d.now());
    if (resetTtl) this.arm(id, false);
    if (change !== "none") {
      if (saveNow || !this.d.saveSoon) this.d.registry.save();
      else this.d.saveSoon();
    }
    if (change === "status") await this.d.sync.status(id);
    return change;
  }

  /** Services with a check critical for longer than its DeregisterCriticalServiceAfter. */
  expiredServices(): string[] {
    const now = this.d.now();
    const out = new Set<string>();
    for (const c of this.d.registry.allChecks()) {
      const after = c.spec.deregisterAfterMs;
      if (!after || !c.spec.serviceId || c.status !== "critical" || c.criticalSince === undefined) continue;
      if (now - c.criticalSince >= after) out.add(c.spec.serviceId);
    }
    return [...out];
  }
}
