// A Prometheus histogram for hot paths. prom-client's Histogram checks and
// hashes its labels on every observation (a few hundred nanoseconds, once
// per proxied request); here a label set's child is looked up once and
// kept by the caller, and an observation is a bucket search and three
// additions. It registers in prom-client's Registry as a metric of its own:
// get() answers in the shape the registry formats, so /metrics reads the
// same as for prom-client's histograms.

/** A label set's series; keep it and observe on it. */
export class HistogramChild {
  /** Observations per bucket (not cumulative); past the last bound only `count` moves. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++; // buckets are "le": the first bound not below the value
    if (i < b.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class FastHistogram<L extends string = string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private children = new Map<string, HistogramChild>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly bounds: number[],
  ) {}

  /** The series for these label values (in labelNames order), made on first use. */
  labels(...values: string[]): HistogramChild {
    const key = values.join("\u0000");
    let c = this.children.get(key);
    if (!c) {
      if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      this.children.set(key, (c = new HistogramChild(labels, this.bounds)));
    }
    return c;
  }

  /** Registry.resetMetrics() calls it. */
  reset(): void {
    this.children.clear();
  }

  // What prom-client's Registry calls to print or serialize a metric.
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const c of this.children.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ labels: { ...c.labels, le }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...c.labels, le: "+Inf" }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
