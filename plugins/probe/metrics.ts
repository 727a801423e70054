// Prometheus gauges for the probe, registered through ctx.metrics so the host
// removes them when the plugin is disabled. Updated on every sample; the
// fingerprint ones once at setup.
import type { MetricsRegistry } from "../../core/sdk/index.ts";
import type { Fingerprint } from "./fingerprint.ts";
import type { Sample } from "./sample.ts";

export interface ProbeMetrics {
  observe(sample: Sample): void;
}

export function registerProbeMetrics(metrics: MetricsRegistry, fp: Fingerprint): ProbeMetrics {
  const cpuPercent = metrics.gauge({
    name: "corral_probe_cpu_percent",
    help: "Busy share of all logical CPUs over the last sampling interval, 0-100",
  });
  const memUsed = metrics.gauge({
    name: "corral_probe_memory_used_bytes",
    help: "Host memory in use (total minus available), bytes",
  });
  const memAvailable = metrics.gauge({
    name: "corral_probe_memory_available_bytes",
    help: "Host memory available without swapping (MemAvailable), bytes",
  });
  const load = metrics.gauge({
    name: "corral_probe_load_average",
    help: "Host load average",
    labelNames: ["window"] as const,
  });
  metrics
    .gauge({ name: "corral_probe_cpu_total_mhz", help: "Advertised CPU, MHz (cores x MHz per core, or cpu_total_mhz)" })
    .set(fp.resources.cpuMhz);
  metrics
    .gauge({ name: "corral_probe_memory_total_bytes", help: "Advertised memory, bytes (MemTotal, or memory_total_mb)" })
    .set(fp.resources.memoryBytes);

  return {
    observe(s) {
      cpuPercent.set(s.cpuPercent);
      memUsed.set(s.memoryUsedBytes);
      memAvailable.set(s.memoryAvailableBytes);
      load.set({ window: "1m" }, s.load1);
      load.set({ window: "5m" }, s.load5);
      load.set({ window: "15m" }, s.load15);
    },
  };
}
