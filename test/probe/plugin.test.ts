import { describe, expect, test } from "bun:test";
import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { Gauge, Registry } from "prom-client";
import os from "node:os";
import { silentLogger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/plugins/metrics.ts";
import type { PluginContext, RouteHandler } from "../../core/plugins/types.ts";
import probe, { createProbePlugin, SAMPLE_TOPIC, type ProbeConfig } from "../../plugins/probe/index.ts";
import { ProbeResponseSchema } from "../../plugins/probe/route.ts";
import type { Detectors } from "../../plugins/probe/fingerprint.ts";
import type { CpuTimes, Sample } from "../../plugins/probe/sample.ts";

/**
 * A tiny stand-in for the plugin host: records what the plugin registers.
 * Timers are manual (`tick()`) unless `realTimers`, in which case release()
 * clears them as the host does.
 */
function fakeContext(rawConfig: unknown, opts: { realTimers?: boolean } = {}) {
  const config = probe.configSchema.parse(rawConfig) as ProbeConfig;
  const published: { topic: string; payload: unknown }[] = [];
  const timers: { intervalMs: number; fn: () => void | Promise<void>; handle?: ReturnType<typeof setInterval> }[] = [];
  const routes: { route: RouteConfig; handler: RouteHandler }[] = [];
  const owned: unknown[] = [];
  const failures: unknown[] = [];
  const registry = new Registry();
  const metrics: MetricsRegistry = {
    gauge: (o) => new Gauge({ ...o, registers: [registry] } as never),
    counter: () => {
      throw new Error("not expected");
    },
    histogram: () => {
      throw new Error("not expected");
    },
  };
  const ctx: PluginContext<ProbeConfig> = {
    name: "probe",
    config,
    log: silentLogger,
    host: { nodeId: "n1", nodeName: "node-1", role: "dev", dataDir: os.tmpdir(), datacenter: "dc1" },
    route: (route, handler) => void routes.push({ route, handler }),
    every(intervalMs, fn) {
      const t: (typeof timers)[number] = { intervalMs, fn };
      if (opts.realTimers) t.handle = setInterval(() => void Promise.resolve(fn()).catch((e) => failures.push(e)), intervalMs);
      timers.push(t);
      return { cancel: () => clearInterval(t.handle) };
    },
    after: () => {
      throw new Error("not expected");
    },
    own: (r) => (owned.push(r), r),
    state: {} as PluginContext["state"],
    propose: () => Promise.reject(new Error("not expected")),
    subscribe: () => ({ unsubscribe() {} }),
    publish: (topic, payload) => void published.push({ topic, payload }),
    metrics,
    fail: (e) => void failures.push(e),
  };
  return {
    ctx,
    published,
    timers,
    routes,
    owned,
    failures,
    registry,
    async tick() {
      for (const t of timers) await t.fn();
    },
    release() {
      for (const t of timers) clearInterval(t.handle);
    },
    app() {
      const app = new OpenAPIHono();
      for (const r of routes) app.openapi(r.route as never, r.handler as never);
      return app;
    },
  };
}

const fakeDetectors: Detectors = {
  cpu: async () => ({ model: "T", rawModel: "T", cores: 2, arch: "x64", baseMhz: 2000, currentMhz: [], cpuinfoMhz: [] }),
  memory: async () => ({ totalBytes: 4096, availableBytes: 3072, usedBytes: 1024 }),
  os: async () => ({
    platform: "linux",
    distro: "D",
    release: "1",
    codename: "",
    kernel: "6",
    arch: "x64",
    machine: "x86_64",
    hostname: "h",
  }),
  disk: async (dataDir) => ({ dataDir, statPath: dataDir, volume: "", mountPoint: "", totalBytes: 10, freeBytes: 5 }),
};

function counterSources() {
  let busy = 0;
  let total = 0;
  let hold: Promise<void> | undefined;
  return {
    /** Makes the next CPU reading wait until the returned function is called. */
    holdNext() {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      return release;
    },
    sources: {
      async cpuTimes(): Promise<CpuTimes> {
        if (hold) {
          const h = hold;
          hold = undefined;
          await h;
        }
        busy += 30;
        total += 100;
        return { busy, total };
      },
      memory: async () => ({ totalBytes: 4096, availableBytes: 3072, usedBytes: 1024 }),
      loadavg: () => [1, 2, 3],
      now: () => 42,
    },
  };
}

describe("probe plugin module", () => {
  test("declares name, version and a config schema with defaults", () => {
    expect(probe.name).toBe("probe");
    expect(probe.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(probe.configSchema.parse({})).toEqual({ interval: 1000 });
  });
});

describe("probe plugin setup (fake context)", () => {
  test("registers one timer at the interval and GET /v1/probe; holds nothing else", async () => {
    const f = fakeContext({ interval: "250ms" });
    await createProbePlugin({ detectors: fakeDetectors, samplerSources: counterSources().sources }).setup(f.ctx);
    expect(f.timers.map((t) => t.intervalMs)).toEqual([250]);
    expect(f.routes.map((r) => [r.route.method, r.route.path])).toEqual([["get", "/v1/probe"]]);
    expect(f.owned).toEqual([]);
    expect(f.published).toEqual([]); // the setup sample only starts the CPU delta
  });

  test("every tick publishes a sample on probe.sample and updates the gauges", async () => {
    const f = fakeContext({});
    await createProbePlugin({ detectors: fakeDetectors, samplerSources: counterSources().sources }).setup(f.ctx);
    await f.tick();
    await f.tick();
    expect(f.published).toHaveLength(2);
    expect(f.published.every((p) => p.topic === SAMPLE_TOPIC)).toBe(true);
    const s = f.published[1]!.payload as Sample;
    expect(s).toEqual({
      time: 42,
      cpuPercent: 30,
      memoryUsedBytes: 1024,
      memoryAvailableBytes: 3072,
      load1: 1,
      load5: 2,
      load15: 3,
    });
    const text = await f.registry.metrics();
    expect(text).toContain("corral_probe_cpu_percent 30");
    expect(text).toContain('corral_probe_load_average{window="5m"} 2');
    expect(text).toContain("corral_probe_cpu_total_mhz 4000");
  });

  test("GET /v1/probe returns the fingerprint and the latest sample", async () => {
    const f = fakeContext({ reserved_memory_mb: 0, cpu_total_mhz: 3000 });
    await createProbePlugin({ detectors: fakeDetectors, samplerSources: counterSources().sources }).setup(f.ctx);
    await f.tick();
    const res = await f.app().request("/v1/probe");
    expect(res.status).toBe(200);
    const body = ProbeResponseSchema.parse(await res.json());
    expect(body.fingerprint.resources).toEqual({ cpuMhz: 3000, cores: 2, memoryBytes: 4096, diskBytes: 5 });
    expect(body.sample).toEqual(f.published[0]!.payload as Sample);
  });

  test("stop: a sample still in flight is not published afterwards", async () => {
    const f = fakeContext({});
    const c = counterSources();
    const handle = await createProbePlugin({ detectors: fakeDetectors, samplerSources: c.sources }).setup(f.ctx);
    const release = c.holdNext();
    const inFlight = f.tick();
    await handle.stop();
    release();
    await inFlight;
    expect(f.published).toEqual([]);
    expect(f.failures).toEqual([]);
  });
});

describe("probe plugin on this host (real detectors, real timers)", () => {
  test("publishes live samples until released", async () => {
    const f = fakeContext({ interval: "100ms" }, { realTimers: true });
    const handle = await probe.setup(f.ctx);
    await Bun.sleep(350);
    const n = f.published.length;
    expect(n).toBeGreaterThanOrEqual(2);
    for (const p of f.published) {
      const s = p.payload as Sample;
      expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(s.cpuPercent).toBeLessThanOrEqual(100);
      expect(s.memoryAvailableBytes).toBeGreaterThan(0);
    }
    await handle.stop();
    f.release();
    await Bun.sleep(250);
    expect(f.published.length).toBe(n);
    expect(f.failures).toEqual([]);
    const body = ProbeResponseSchema.parse(await (await f.app().request("/v1/probe")).json());
    expect(body.fingerprint.resources.cores).toBe(os.availableParallelism());
  });
});
