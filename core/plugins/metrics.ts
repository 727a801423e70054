// Metrics through prom-client, with one Registry per node (no global default
// registry) and a scoped view per plugin that remembers what the plugin
// created, so disabling the plugin removes its series from /metrics.
import { Counter, Gauge, Registry, type Metric } from "prom-client";
import { FastHistogram } from "./histogram.ts";

export interface MetricOptions<L extends string = string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface HistogramOptions<L extends string = string> extends MetricOptions<L> {
  buckets?: number[];
}

export interface MetricsRegistry {
  counter<L extends string>(opts: MetricOptions<L>): Counter<L>;
  gauge<L extends string>(opts: MetricOptions<L> & { collect?: () => void | Promise<void> }): Gauge<L>;
  /** A histogram whose series are kept by the caller (see histogram.ts): observing costs no label lookup. */
  histogram<L extends string>(opts: HistogramOptions<L>): FastHistogram<L>;
}

/** prom-client's default buckets (seconds). */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ScopedMetrics implements MetricsRegistry {
  private owned = new Set<string>();

  constructor(private registry: Registry) {}

  counter<L extends string>(opts: MetricOptions<L>): Counter<L> {
    return this.track(opts.name, () => new Counter<L>({ ...opts, registers: [this.registry] }));
  }

  gauge<L extends string>(opts: MetricOptions<L> & { collect?: () => void | Promise<void> }): Gauge<L> {
    return this.track(opts.name, () => new Gauge<L>({ ...opts, registers: [this.registry] } as never));
  }

  histogram<L extends string>(opts: HistogramOptions<L>): FastHistogram<L> {
    return this.track(opts.name, () => {
      const h = new FastHistogram<L>(opts.name, opts.help, opts.labelNames ?? [], opts.buckets ?? DEFAULT_BUCKETS);
      this.registry.registerMetric(h as unknown as Metric);
      return h;
    });
  }

  /** Removes every metric this scope created. */
  release(): void {
    for (const name of this.owned) this.registry.removeSingleMetric(name);
    this.owned.clear();
  }

  count(): number {
    return this.owned.size;
  }

  // A reloaded plugin asks for the same names again: reuse is an error in
  // prom-client, so a stale metric of the same name is removed first.
  private track<T>(name: string, make: () => T): T {
    if (this.registry.getSingleMetric(name)) {
      if (!this.owned.has(name)) throw new Error(`metric ${name} is already registered by another owner`);
      this.registry.removeSingleMetric(name);
    }
    this.owned.add(name);
    return make();
  }
}
