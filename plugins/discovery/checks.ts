// Check state changes on the owning agent: TTL timers (no update within TTL
// → critical, "TTL expired"), updates from the agent endpoints and from other
// plugins (the health plugin running http/tcp checks publishes results on
// "discovery.check.result"), and the reaper of DeregisterCriticalServiceAfter.
// A status change is written to the catalog at once; an output-only change
// waits for the next full sync (Consul defers those too: reference B5).
import type { CheckStatus } from "../../core/state/domains/catalog.ts";
import type { TimerHandle } from "../../core/plugins/types.ts";
import type { LocalRegistry, StatusChange } from "./local.ts";
import type { CatalogSync } from "./sync.ts";

export interface CheckRunnerDeps {
  registry: LocalRegistry;
  sync: CatalogSync;
  now(): number;
  /** The plugin's ctx.after: a rejected promise from `fn` reaches the host (plugin marked failed). */
  after(ms: number, fn: () => Promise<unknown>): TimerHandle;
}

export const TTL_EXPIRED_OUTPUT = "TTL expired";

export class CheckRunner {
  private timers = new Map<string, TimerHandle>();

  constructor(private d: CheckRunnerDeps) {}

  /** (Re)starts the TTL window of a TTL check; anything else has no timer here. */
  arm(id: string): void {
    this.disarm(id);
    const c = this.d.registry.check(id);
    if (!c || c.spec.type !== "ttl" || !c.spec.ttlMs) return;
    this.timers.set(id, this.d.after(c.spec.ttlMs, () => {
      this.timers.delete(id);
      return this.set(id, "critical", TTL_EXPIRED_OUTPUT, false);
    }));
  }

  disarm(id: string): void {
    this.timers.get(id)?.cancel();
    this.timers.delete(id);
  }

  /** A restarted agent gives every TTL check a fresh window (as Consul does). */
  armAll(): void {
    for (const c of this.d.registry.listChecks()) this.arm(c.spec.id);
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  /**
   * Records a result and persists it; `resetTtl` restarts a TTL window (a
   * pass/warn/fail/update call does, an expiry does not). Resolves once a
   * status change reached the catalog (or failed and was queued for resync).
   */
  async set(id: string, status: CheckStatus, output: string, resetTtl = true): Promise<StatusChange> {
    const change = this.d.registry.setStatus(id, status, output, this.d.now());
    if (resetTtl) this.arm(id);
    if (change !== "none") this.d.registry.save();
    if (change === "status") await this.d.sync.status(id);
    return change;
  }

  /** Services with a check critical for longer than its DeregisterCriticalServiceAfter. */
  expiredServices(): string[] {
    const now = this.d.now();
    const out = new Set<string>();
    for (const c of this.d.registry.listChecks()) {
      const after = c.spec.deregisterAfterMs;
      if (!after || !c.spec.serviceId || c.status !== "critical" || c.criticalSince === undefined) continue;
      if (now - c.criticalSince >= after) out.add(c.spec.serviceId);
    }
    return [...out];
  }
}
