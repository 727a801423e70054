// The hot-path histogram (core/plugins/histogram.ts) as Prometheus reads it:
// "le" buckets (a value equal to a bound counts in that bucket), cumulative
// in the exposition, +Inf, _sum and _count, one series per label set, and
// gone from /metrics when its plugin's scope is released.
import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { ScopedMetrics } from "../../core/plugins/metrics.ts";

describe("FastHistogram", () => {
  test("buckets, exposition and release", async () => {
    const registry = new Registry();
    const scope = new ScopedMetrics(registry);
    const h = scope.histogram({ name: "t_seconds", help: "test", labelNames: ["service"] as const, buckets: [0.001, 0.01] });
    const web = h.labels("web");
    for (const v of [0.0005, 0.001, 0.005, 7]) web.observe(v);
    h.labels("api").observe(0.02);
    expect(h.labels("web")).toBe(web); // one series per label set
    const text = await registry.metrics();
    expect(text).toContain("# TYPE t_seconds histogram");
    expect(text).toContain('t_seconds_bucket{service="web",le="0.001"} 2');
    expect(text).toContain('t_seconds_bucket{service="web",le="0.01"} 3');
    expect(text).toContain('t_seconds_bucket{service="web",le="+Inf"} 4');
    expect(text).toContain('t_seconds_sum{service="web"} 7.0065');
    expect(text).toContain('t_seconds_count{service="web"} 4');
    expect(text).toContain('t_seconds_bucket{service="api",le="0.01"} 0');
    expect(text).toContain('t_seconds_count{service="api"} 1');
    expect(() => h.labels("a", "b")).toThrow(/expected 1 label values/);
    scope.release();
    expect(await registry.metrics()).not.toContain("t_seconds");
  });
});
