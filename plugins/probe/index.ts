// The probe plugin: fingerprints the host once at setup, then samples CPU,
// memory and load every `interval` and publishes each sample on the local
// event bus ("probe.sample"); GET /v1/probe returns both.
//
// Everything periodic goes through ctx.every and the route through ctx.route,
// so the host releases them on disable or reload. The plugin itself holds no
// sockets, files or child processes; stop() only makes sure a sample still in
// flight when the plugin stops is not published afterwards.
// Gauges (metrics.ts) go through ctx.metrics, which the host also releases.
import type { PluginContext, PluginHandle, PluginModule } from "../../core/sdk/index.ts";
import { probeConfigSchema, type ProbeConfig } from "./config.ts";
import { fingerprint, type Detectors, type Fingerprint } from "./fingerprint.ts";
import { registerProbeMetrics } from "./metrics.ts";
import { probeRoute, type ProbeResponse } from "./route.ts";
import { createSampler, type SamplerSources } from "./sample.ts";
import { probeRegistrationFacts } from "./registration.ts";

export const PROBE_VERSION = "0.1.0";
/** Event bus topic of live samples; payload: Sample (sample.ts). */
export const SAMPLE_TOPIC = "probe.sample";

export interface ProbePluginDeps {
  /** Replace fingerprint detectors (tests). */
  detectors?: Partial<Detectors>;
  /** Replace sample sources (tests). */
  samplerSources?: Partial<SamplerSources>;
}

export function createProbePlugin(deps: ProbePluginDeps = {}): PluginModule<ProbeConfig> {
  return {
    name: "probe",
    version: PROBE_VERSION,
    description: "Host fingerprint (CPU, memory, OS, disk) and live CPU/memory/load samples",
    configSchema: probeConfigSchema,
    registrationFacts: (input) => probeRegistrationFacts(input, deps.detectors),
    async setup(ctx: PluginContext<ProbeConfig>): Promise<PluginHandle> {
      const sampler = createSampler(deps.samplerSources);
      // The first sample starts the CPU delta, so the first published one
      // covers exactly one interval.
      const [fp] = await Promise.all([
        fingerprint({ dataDir: ctx.host.dataDir, overrides: ctx.config, detectors: deps.detectors }),
        sampler.sample(),
      ]);
      for (const warning of fp.warnings) ctx.log.warn(warning);
      ctx.log.info("host fingerprinted", {
        cores: fp.resources.cores,
        cpuMhz: fp.resources.cpuMhz,
        memoryBytes: fp.resources.memoryBytes,
        diskBytes: fp.resources.diskBytes,
      });

      // Gauges start with the first interval sample, not the since-boot one.
      const metrics = registerProbeMetrics(ctx.metrics, fp);

      let stopped = false;
      ctx.every(ctx.config.interval, async () => {
        const sample = await sampler.sample();
        if (stopped) return;
        metrics.observe(sample);
        ctx.publish(SAMPLE_TOPIC, sample);
      });

      ctx.route(probeRoute, (c) => {
        const body: ProbeResponse = { fingerprint: fp satisfies Fingerprint, sample: sampler.latest() ?? null };
        return c.json(body, 200);
      });

      return {
        stop() {
          stopped = true;
        },
      };
    },
  };
}

export const probePlugin: PluginModule<ProbeConfig> = createProbePlugin();
export default probePlugin;

export { fingerprint, type Fingerprint } from "./fingerprint.ts";
export { createSampler, type Sample, type Sampler } from "./sample.ts";
export { probeConfigSchema, parseDurationMs, type ProbeConfig } from "./config.ts";
export type { ProbeOverrides } from "./types.ts";
