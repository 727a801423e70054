// The discovery plugin: a Consul-compatible catalog, health and agent API
// (shared/reference/consul-http-api.md §4–§6) over the replicated catalog
// (core/state/domains/catalog.ts), plus this node's own registrations with
// anti-entropy (sync.ts) and TTL checks (checks.ts). See docs/discovery.md.
//
// Agent endpoints answer from this node's registry; catalog and health reads
// come from replicated state (forwarded to a leader on agents). Timers,
// routes and subscriptions go through ctx, so disabling the plugin releases
// them; the registry file stays, and re-enabling resumes from it.
import { join } from "node:path";
import {
  follow, listen, send, type NodeRef, type PluginContext, type PluginHandle, type PluginModule,
  type TimerHandle,
} from "../../core/sdk/index.ts";
import { QueryCache } from "./http.ts";
import { CatalogDigests } from "./digest.ts";
import { CheckRunner } from "./checks.ts";
import { discoveryConfigSchema, type DiscoveryConfig } from "./config.ts";
import { LocalRegistry } from "./local.ts";
import { CatalogSync } from "./sync.ts";
import { agentServiceRoutes } from "./routes/agent-services.ts";
import { agentCheckRoutes } from "./routes/agent-checks.ts";
import { catalogRoutes } from "./routes/catalog.ts";
import { catalogWriteRoutes } from "./routes/catalog-write.ts";
import { healthRoutes } from "./routes/health.ts";
import { FastReads } from "./read-fast.ts";
import { CHECK_RESULT, LOCAL_CHECKS, RUNNABLE_TYPES } from "./topics.ts";
import { HEALTH_STATE, parseHealthState } from "../health/topics.ts";

export const DISCOVERY_VERSION = "0.1.0";
/** Bus topic other plugins (health) publish check results on: { checkId, status, output }. */
export { CHECK_RESULT_TOPIC } from "./topics.ts";
/** Consul reaps DeregisterCriticalServiceAfter every 30 s; finer here costs nothing. */
const REAP_INTERVAL_MS = 5_000;
/** Results of check runners are written to services.json at most this often (their status changes reach the catalog at once). */
const RESULT_SAVE_DELAY_MS = 1_000;

export function registryFile(dataDir: string): string {
  return join(dataDir, "discovery", "services.json");
}

/** This node's digest as the catalog has it: read locally on leader-role nodes, from a leader on agents. */
async function catalogDigest(ctx: PluginContext<DiscoveryConfig>, digests: CatalogDigests): Promise<string | undefined> {
  if (!ctx.forward) return digests.get(ctx.host.nodeId).digest;
  const req = new Request(`http://leader/v1/discovery/digest/${encodeURIComponent(ctx.host.nodeId)}`, { signal: AbortSignal.timeout(5_000) });
  const res = await ctx.forward(req);
  if (!res.ok) return undefined;
  const body = (await res.json()) as { digest?: unknown };
  return typeof body.digest === "string" ? body.digest : undefined;
}

/** Periodic anti-entropy, resync on (re)join, the critical-service reaper, results from other plugins, metrics. */
function background(ctx: PluginContext<DiscoveryConfig>, registry: LocalRegistry, sync: CatalogSync, runner: CheckRunner): void {
  ctx.every(ctx.config.sync_interval, async () => void (await sync.full()));
  ctx.subscribe("agent.joined", () => sync.full());
  ctx.every(REAP_INTERVAL_MS, async () => {
    for (const id of runner.expiredServices()) {
      ctx.log.info("deregistering service: a check was critical past DeregisterCriticalServiceAfter", { service: id });
      for (const ch of registry.removeService(id) ?? []) runner.disarm(ch);
      registry.save();
      await sync.service(id);
    }
  });
  listen(ctx, CHECK_RESULT, (r) => {
    const type = registry.check(r.checkId)?.spec.type;
    // Runners report on http/tcp/script checks only; the file write is coalesced.
    if (type && RUNNABLE_TYPES.has(type)) return runner.set(r.checkId, r.status, r.output, false, false);
  });
  // A check runner that starts after this plugin asks for the full set.
  listen(ctx, LOCAL_CHECKS.request, () => runner.announceAll());

  const gauge = ctx.metrics.gauge({
    name: "corral_discovery_local_services", help: "Services registered on this agent",
    collect: () => void gauge.set(registry.listServices().length),
  });
  const syncs = ctx.metrics.gauge({
    name: "corral_discovery_full_syncs", help: "Anti-entropy full syncs since the plugin started: written, or skipped (catalog already agreed)",
    labelNames: ["outcome"] as const,
    collect: () => {
      syncs.set({ outcome: "written" }, sync.stats.written);
      syncs.set({ outcome: "skipped" }, sync.stats.skipped);
    },
  });
}

async function setup(ctx: PluginContext<DiscoveryConfig>): Promise<PluginHandle> {
  const file = registryFile(ctx.host.dataDir);
  const registry = new LocalRegistry(file);
  try {
    registry.load();
  } catch (err) {
    // Starting empty would make the next sync delete this node's services
    // from the catalog: refuse, and let the operator decide.
    throw new Error(`${file} is unreadable (${(err as Error).message}); fix or move it away to start with no services`);
  }

  const now = () => Date.now();
  const digests = new CatalogDigests(ctx.state);
  const node = (): NodeRef => ({
    id: ctx.host.nodeId, name: ctx.host.nodeName, address: ctx.host.advertise ?? "127.0.0.1", datacenter: ctx.host.datacenter,
  });
  const sync = new CatalogSync({
    propose: (cmd) => ctx.propose(cmd), registry, node, log: ctx.log, now,
    after: (ms, fn) => void ctx.after(ms, fn), maxRetryMs: ctx.config.sync_interval,
    catalogDigest: () => catalogDigest(ctx, digests),
  });
  let saveTimer: TimerHandle | undefined;
  const saveSoon = () => void (saveTimer ??= ctx.after(RESULT_SAVE_DELAY_MS, () => {
    saveTimer = undefined;
    registry.save();
  }));
  const runner = new CheckRunner({
    registry, sync, now, after: (ms, fn) => ctx.after(ms, async () => void (await fn())),
    notify: (event) => send(ctx, LOCAL_CHECKS.state, event), saveSoon,
  });
  runner.armAll();

  // Args (exec) checks are accepted while the health plugin runs with enable_exec_checks.
  let health = parseHealthState(undefined);
  follow(ctx, HEALTH_STATE, (state) => void (health = state));

  const limits = { services: ctx.config.max_services_per_node, checks: ctx.config.max_checks_per_node };
  const hideCheckOutput = () => ctx.config.hide_check_output;
  const deps = { ctx: ctx as PluginContext<unknown>, registry, sync, runner, now, limits, execChecks: () => health.execChecks, hideCheckOutput };
  agentServiceRoutes(deps);
  agentCheckRoutes(deps);
  // One answer cache for the catalog and health reads: identical blocking queries (same route, query
  // and grant) woken by one change cost one evaluation and one serialization (http.ts cachedJsonRead).
  const answers = new QueryCache(1024);
  // The plain blocking reads of /v1/health/service/<name> and /v1/catalog/services also have a fast path (read-fast.ts).
  const fastReads = new FastReads();
  catalogRoutes(deps.ctx, answers, fastReads);
  catalogWriteRoutes(deps.ctx);
  healthRoutes(deps.ctx, hideCheckOutput, answers, fastReads);
  const answered = ctx.metrics.gauge({
    name: "corral_discovery_read_answers", help: "Catalog and health read answers since the plugin started: computed (evaluated and serialized), or served from the answer cache",
    labelNames: ["source"] as const,
    collect: () => {
      answered.set({ source: "computed" }, answers.stats.computed);
      answered.set({ source: "cache" }, answers.stats.served);
    },
  });
  const fast = ctx.metrics.gauge({
    name: "corral_discovery_fast_reads", help: "Catalog and health blocking reads answered on their fast path (before the HTTP middleware chain) since the plugin started",
    collect: (): void => {
      fast.set(fastReads.count);
    },
  });

  background(ctx, registry, sync, runner);

  // The first sync: a restarted agent brings the catalog in line at once.
  void sync.full();
  return {
    stop() {
      sync.stop();
      runner.stop();
      if (saveTimer) {
        saveTimer.cancel();
        registry.save();
      }
    },
  };
}

export const discoveryPlugin: PluginModule<DiscoveryConfig> = {
  name: "discovery",
  version: DISCOVERY_VERSION,
  description: "Consul-compatible service catalog, health and agent API with blocking queries; agent-owned registrations",
  configSchema: discoveryConfigSchema,
  setup,
};
export default discoveryPlugin;

export { discoveryConfigSchema, type DiscoveryConfig } from "./config.ts";
