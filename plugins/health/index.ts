// The health plugin: runs the http, tcp, grpc and (when allowed) exec checks of
// the services registered on THIS node (docs/health.md). The discovery
// plugin owns registrations and TTL checks; it hands this plugin its node's
// runnable checks over the local bus (discovery/topics.ts), so every check
// runs once, on the node that owns it, and results go back to discovery on
// `discovery.check.result`, which writes status changes to the log and
// reaps services past DeregisterCriticalServiceAfter. Only status changes
// are reported at once (thresholds.ts), so a healthy cluster writes nothing.
//
// It announces itself on `health.state` (topics.ts): discovery then accepts
// Args checks when enable_exec_checks is on, and the exec driver's stopgap
// check runner steps aside (plugins.exec.run_checks = "auto").
import { agentIdentity, announce, checkIdentity, closeDataDirToTasks, follow, type PluginContext, type PluginHandle, type PluginModule, readPasswd, send } from "../../core/sdk/index.ts";
import { CHECK_RESULT, LOCAL_CHECKS } from "../discovery/topics.ts";
import { healthConfigSchema, type HealthConfig } from "./config.ts";
import type { RunSpec } from "./definition.ts";
import { checkEnv, execProbe } from "./exec-probe.ts";
import { grpcProbe, httpInit, httpProbe, tcpProbe, type ProbeResult } from "../../core/sdk/index.ts";
import { HealthRunner } from "./runner.ts";
import { HEALTH_STATE, type HealthState } from "./topics.ts";

export const HEALTH_VERSION = "0.1.0";

export const EXEC_DISABLED_OUTPUT = "exec checks are disabled on this agent (plugins.health.enable_exec_checks = false)";

/** Runs one probe of `spec` by its kind. */
function prober(cfg: HealthConfig, stop: AbortSignal) {
  const agent = agentIdentity();
  const baseEnv = checkEnv();
  return async (spec: RunSpec): Promise<ProbeResult> => {
    const p = spec.probe;
    switch (p.kind) {
      case "http":
        // Most checks share one init object; the others build theirs per probe (cheap, and nothing kept per check).
        return httpProbe(p, httpInit(p), spec.timeoutMs, cfg.output_max_size);
      case "tcp":
        return tcpProbe(p, spec.timeoutMs);
      case "grpc":
        return grpcProbe(p, spec.timeoutMs);
      case "exec":
        if (!cfg.enable_exec_checks) return { status: "critical", output: EXEC_DISABLED_OUTPUT };
        {
          const who = checkIdentity(cfg.exec_check_user, agent, readPasswd());
          if (!who.ok) return { status: "critical", output: who.error };
          const env = who.switchTo ? { ...baseEnv, HOME: "/", USER: who.name, LOGNAME: who.name } : baseEnv;
          return execProbe(p, spec.timeoutMs, cfg.output_max_size, env, stop, who.switchTo);
        }
      case "invalid":
        return { status: "critical", output: p.reason };
    }
  };
}

/** Gauges read the runner at each scrape; the counters are fed as probes start and results go out. */
function metrics(ctx: PluginContext<HealthConfig>, runner: () => HealthRunner) {
  const g = (name: string, help: string, value: (s: HealthRunner["stats"]) => number) => {
    const gauge = ctx.metrics.gauge({ name, help, collect: () => void gauge.set(value(runner().stats)) });
  };
  g("corral_health_checks", "Checks this node's health plugin runs", (s) => s.checks);
  g("corral_health_probes_in_flight", "Probes running now", (s) => s.inFlight);
  g("corral_health_probes_waiting", "Due checks waiting for a probe slot (plugins.health.max_concurrent)", (s) => s.waiting);
  const probes = ctx.metrics.counter({ name: "corral_health_probes_total", help: "Probes started" });
  const delay = ctx.metrics.counter({ name: "corral_health_probe_delay_seconds_total", help: "How late probes started after they were due, summed (a runner falling behind)" });
  const reports = ctx.metrics.counter({ name: "corral_health_reports_total", help: "Results reported to the catalog: status changes, and output changes deferred by output_update_interval" });
  return {
    started: (lagMs: number) => {
      probes.inc();
      if (lagMs > 0) delay.inc(lagMs / 1000);
    },
    reported: () => reports.inc(),
  };
}

function setup(ctx: PluginContext<HealthConfig>): PluginHandle {
  const cfg = ctx.config;
  const stopping = new AbortController();
  // Exec checks run as another user: first the data dir must hide what it holds.
  if (cfg.enable_exec_checks && process.getuid?.() === 0) {
    const shared = closeDataDirToTasks(ctx.host.dataDir);
    if (shared) ctx.log.warn(shared);
  }
  const m = metrics(ctx, () => runner);
  const runner: HealthRunner = new HealthRunner({
    now: () => performance.now(),
    random: Math.random,
    setTimer: (ms, fn) => ctx.after(ms, fn),
    probe: prober(cfg, stopping.signal),
    report: (checkId, r) => {
      m.reported();
      send(ctx, CHECK_RESULT, { checkId, status: r.status, output: r.output });
    },
    started: m.started,
    maxConcurrent: cfg.max_concurrent,
    minIntervalMs: cfg.min_interval,
    outputIntervalMs: cfg.output_update_interval,
  });
  // Discovery may have started first: follow asks for its node's checks.
  follow(ctx, LOCAL_CHECKS, (ev) => runner.apply(ev));

  const on: HealthState = { enabled: true, execChecks: cfg.enable_exec_checks };
  announce(ctx, HEALTH_STATE, () => on);
  ctx.log.info("health checks ready", { checks: runner.stats.checks, execChecks: cfg.enable_exec_checks, maxConcurrent: cfg.max_concurrent });

  return {
    stop() {
      runner.stop();
      stopping.abort();
      // The host drops this plugin's subscriptions after stop: followers hear "off" once.
      send(ctx, HEALTH_STATE.state, { enabled: false, execChecks: false });
    },
  };
}

export const healthPlugin: PluginModule<HealthConfig> = {
  name: "health",
  version: HEALTH_VERSION,
  description: "Runs the http, tcp, grpc and exec checks of this node's services; reports status changes to the catalog",
  configSchema: healthConfigSchema,
  setup,
};
export default healthPlugin;

export { healthConfigSchema, type HealthConfig } from "./config.ts";
