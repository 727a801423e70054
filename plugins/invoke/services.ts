// The services this node is calling: for each, its catalog watch, its pool
// of passing instances, its retry budget and its effective policy. An entry
// is made on the first call and dropped after `watch_idle` without calls,
// which stops its watch; at most `max_services` exist at once.
import type { Logger } from "../../core/sdk/index.ts";
import type { Rng } from "./balancer.ts";
import { RetryBudget } from "./budget.ts";
import { effectivePolicy, type InvokeConfig, type ServicePolicy, type ServicePolicyInput } from "./config.ts";
import { ServicePool } from "./pool.ts";
import type { CatalogSource, InstanceView } from "./watch.ts";

export class ServiceEntry {
  /** First view arrived (or the first query failed). */
  loaded = false;
  exists = false;
  /** The last watch error while no view has arrived yet. */
  loadError: unknown;
  lastUsed: number;
  policy: ServicePolicy;
  readonly pool: ServicePool;
  readonly budget: RetryBudget;
  readonly ready: Promise<void>;
  /** Metric children for this service, filled lazily by the metrics module. */
  metrics: Record<string, unknown> = {};
  private markReady!: () => void;
  private watch?: { stop(): void };

  constructor(
    readonly name: string,
    cfg: InvokeConfig,
    override: ServicePolicyInput | undefined,
    private readonly deps: RegistryDeps,
  ) {
    this.lastUsed = deps.now();
    this.policy = effectivePolicy(cfg, name, override);
    this.pool = new ServicePool(this.policy.strategy, deps.rng, {
      consecutiveFailures: cfg.consecutive_failures, baseEjectionMs: cfg.base_ejection_time,
      maxEjectionMs: cfg.max_ejection_time, maxEjectionPercent: cfg.max_ejection_percent,
    });
    this.budget = new RetryBudget({ percent: cfg.retry_budget_percent, minPerSecond: cfg.retry_budget_min_per_second, windowMs: cfg.retry_budget_window }, deps.now);
    this.ready = new Promise((r) => (this.markReady = r));
  }

  start(): void {
    this.watch = this.deps.source.watch(this.name, {
      update: (v) => this.apply(v),
      error: (err) => {
        if (!this.loaded) this.loadError = err;
        this.markReady(); // callers waiting for the first view get the error instead of hanging
        this.deps.log.debug("invoke: catalog watch failed; keeping the last view", { service: this.name, err });
      },
    });
  }

  stop(): void {
    this.watch?.stop();
  }

  setPolicy(policy: ServicePolicy): void {
    this.policy = policy;
    this.pool.setStrategy(policy.strategy);
  }

  private apply(v: InstanceView): void {
    this.exists = v.exists;
    this.pool.update(v.passing, this.deps.now());
    this.loaded = true;
    this.loadError = undefined;
    this.markReady();
  }
}

export interface RegistryDeps {
  source: CatalogSource;
  now: () => number;
  rng: Rng;
  log: Logger;
  onDropped: (svc: ServiceEntry) => void;
}

export class TooManyServicesError extends Error {}

export class ServiceRegistry {
  private entries = new Map<string, ServiceEntry>();
  /** Node-local run-time overrides (PUT /v1/invoke-config/{service}), by lowercase name. */
  private overrides = new Map<string, ServicePolicyInput>();

  constructor(
    private readonly cfg: InvokeConfig,
    private readonly deps: RegistryDeps,
  ) {}

  /** The entry for a call (lower-cased name: Consul names are case-insensitive); starts its watch when new. */
  acquire(name: string): ServiceEntry {
    let e = this.entries.get(name);
    if (e) {
      e.lastUsed = this.deps.now();
      return e;
    }
    const key = name.toLowerCase();
    e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.cfg.max_services) this.sweep();
      if (this.entries.size >= this.cfg.max_services) throw new TooManyServicesError(`already watching ${this.cfg.max_services} services (max_services)`);
      e = new ServiceEntry(key, this.cfg, this.overrides.get(key), this.deps);
      this.entries.set(key, e);
      e.start();
    }
    e.lastUsed = this.deps.now();
    return e;
  }

  get(name: string): ServiceEntry | undefined {
    return this.entries.get(name.toLowerCase());
  }

  list(): ServiceEntry[] {
    return [...this.entries.values()];
  }

  override(name: string): ServicePolicyInput | undefined {
    return this.overrides.get(name.toLowerCase());
  }

  /** Sets (or with undefined clears) a service's run-time override; returns the effective policy. */
  setOverride(name: string, override: ServicePolicyInput | undefined): ServicePolicy {
    const key = name.toLowerCase();
    if (override) this.overrides.set(key, override);
    else this.overrides.delete(key);
    const policy = effectivePolicy(this.cfg, key, override);
    this.entries.get(key)?.setPolicy(policy);
    return policy;
  }

  /** Drops entries unused for watch_idle with nothing in flight. */
  sweep(): void {
    const cutoff = this.deps.now() - this.cfg.watch_idle;
    for (const [key, e] of this.entries) {
      if (e.lastUsed >= cutoff || e.pool.endpoints.some((p) => p.inflight > 0)) continue;
      e.stop();
      this.entries.delete(key);
      this.deps.onDropped(e);
    }
  }

  stop(): void {
    for (const e of this.entries.values()) e.stop();
    this.entries.clear();
  }
}
