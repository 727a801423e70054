// The exec task driver: runs the allocations the leader placed on this node
// as real processes (docs/exec.md). On an agent (and a dev node) it
// watches GET /v1/node/{id}/allocations, starts and stops tasks, enforces
// memory (cgroup v2 or an RSS watchdog), restarts tasks by their restart
// policy, registers their services, and reports status transitions with
// UpdateAllocStatus. On a leader-role node that runs no tasks it only
// serves GET /v1/alloc/{id}/logs by passing it on to the right agent.
//
// Tasks outlive the agent (docs/exec.md, "Tasks outlive the agent"):
// disabling or reloading the plugin, or stopping the node (SIGTERM, kill -9,
// an upgrade), leaves them running, writing their own log files. The next
// plugin instance or agent adopts them from processes.json (pid + start
// time) with their restart counters, restarts by policy those that ended
// meanwhile, and kills only those whose allocation is no longer wanted
// here. A node that stays away past node_ttl has its allocations marked
// lost and replaced elsewhere; its tasks are killed when it comes back.
// Job stop and node drain are how tasks stop.
import { join } from "node:path";
import { agentIdentity, closeDataDirToTasks, follow, idRanges, type PluginContext, type PluginHandle, type PluginModule, readPasswd, taskIdentity, type TaskState, untraversable } from "../../core/sdk/index.ts";
import { prepareExecDir } from "./dirs.ts";
import { execConfigSchema, type ExecConfig } from "./config.ts";
import { createLimits } from "./limits.ts";
import { ProcessFile, survives, type TaskRecord } from "./processes.ts";
import { StatusReporter } from "./reporter.ts";
import { logRoutes } from "./routes.ts";
import { operateRoutes } from "./operate-routes.ts";
import { JobServices } from "./services.ts";
import { AllocWatch, localAllocs, remoteAllocs } from "./source.ts";
import { Supervisor } from "./supervisor.ts";
import type { RunnerStatus } from "./alloc-runner.ts";
import { commandFile, probeFor } from "./sandbox-host.ts";
import { taskSandbox } from "./task-sandbox.ts";
import { execRoutes } from "./exec-routes.ts";
import { execWsRoutes } from "./exec-ws.ts";
import { execRegistrationFacts } from "./registration.ts";
import { ArtifactCache } from "./artifact-cache.ts";
import { hostPatterns } from "./artifact-fetch.ts";
import { HEALTH_STATE } from "../health/topics.ts";
import { TemplateData } from "./templates/data.ts";
import { ContainerDriver } from "../container/driver.ts";
import { findRuntime } from "../container/runtime.ts";
import { findSlirp, outboundSetting } from "../container/outbound.ts";

export const EXEC_VERSION = "0.1.0";

/** How often task log files are checked against max_log_file_bytes. */
const LOG_ROTATE_INTERVAL_MS = 1000;

export function execDir(dataDir: string): string {
  return join(dataDir, "exec");
}

async function setup(ctx: PluginContext<ExecConfig>): Promise<PluginHandle> {
  const cfg = ctx.config;
  const dir = execDir(ctx.host.dataDir);
  const allocsDir = join(dir, "allocs");
  if (ctx.host.role === "leader") {
    // Leaders run no tasks; they only pass log, operate and exec requests on to the agent that runs the allocation.
    logRoutes({ ctx: ctx as PluginContext<unknown>, allocsDir, local: () => undefined });
    operateRoutes({ ctx: ctx as PluginContext<unknown>, runner: () => undefined });
    execRoutes({ ctx: ctx as PluginContext<unknown>, runner: () => undefined });
    execWsRoutes({ ctx: ctx as PluginContext<unknown>, runner: () => undefined, maxSessions: cfg.exec_max_sessions, maxFrameBytes: cfg.exec_max_frame_bytes });
    return { stop() {} };
  }

  // A root agent runs tasks as other users: first make sure they can reach nothing of the agent's.
  const agent = agentIdentity();
  const isolate = agent.uid === 0;
  if (isolate) {
    const shared = closeDataDirToTasks(ctx.host.dataDir);
    if (shared) ctx.log.warn(shared);
    prepareExecDir(dir, allocsDir);
    const closed = untraversable(allocsDir);
    if (closed) ctx.log.warn("task users cannot reach their folders: a folder on the way to the data dir is not traversable by others (o+x)", { folder: closed });
  } else ctx.log.warn("the agent does not run as root: exec tasks cannot be isolated and are refused; raw_exec tasks run as the agent's user", { uid: agent.uid, allowRaw: cfg.allow_raw });
  const policy = { defaultUser: cfg.user, allowRaw: cfg.allow_raw, deniedUids: idRanges(cfg.denied_host_uids), deniedGids: idRanges(cfg.denied_host_gids) };
  // Read at each allocation start: users added to the host later are found.
  const identity = (task: Parameters<typeof taskIdentity>[0]) =>
    taskIdentity(task, agent, policy, readPasswd());

  // Isolation (sandbox.ts): probed once; the node's registration published the same answer as driver.exec.isolation.
  const iso = isolate ? probeFor(cfg, ctx.host.dataDir) : undefined;
  for (const w of iso?.warnings ?? []) ctx.log.warn(w);
  if (iso && !iso.ok) ctx.log.warn("exec tasks run unisolated on this node (isolation = \"required\" tasks are refused)", { reason: iso.reason });
  const sandbox = (task: Parameters<typeof taskSandbox>[1], taskDir: string, who: Parameters<typeof taskSandbox>[3]) => taskSandbox(iso, task, taskDir, who, iso ? commandFile(task.command, iso, ctx.host.dataDir) : undefined);

  // Container tasks (plugins/container): a root agent with an OCI runtime.
  const runtime = findRuntime(cfg.container_runtime);
  const containersOff = !isolate ? "the agent does not run as root" : "error" in runtime ? runtime.error : undefined;
  const outbound = outboundSetting(cfg.container_outbound, findSlirp());
  if (!containersOff && outbound.note) ctx.log.warn(outbound.note);
  const containers = containersOff || "error" in runtime ? undefined : new ContainerDriver({
    slirp: outbound.path,
    dir: join(ctx.host.dataDir, "container"), runtime, listenHost: ctx.host.advertise ?? "127.0.0.1", auth: cfg.container_auth, insecureRegistries: cfg.container_insecure_registries,
    allowedRegistries: cfg.container_allowed_registries,
    allowPrivileged: cfg.container_allow_privileged, allowCaps: cfg.container_allow_caps, cacheBytes: cfg.container_cache_bytes, cacheMaxAgeMs: cfg.container_cache_max_age, imagesBytes: cfg.container_images_bytes, maxUnpackedBytes: cfg.container_max_unpacked_bytes,
    pullTimeoutMs: cfg.container_pull_timeout, log: ctx.log,
  });
  if (containersOff) ctx.log.info("container tasks do not run on this node", { reason: containersOff });

  const processes = new ProcessFile(join(dir, "processes.json"));
  const recorded = processes.load();
  const adoptable = recorded.filter(survives);
  if (recorded.length) ctx.log.info("tasks recorded before this agent (or plugin) started: taking them up as the leader lists their allocations", { recorded: recorded.length, running: adoptable.map((e) => `${e.allocId}/${e.task} pid ${e.pid}`) });

  const limits = createLimits(cfg.cgroup_root, ctx.log);
  ctx.every(cfg.watchdog_interval, () => limits.tick());
  const reporter = new StatusReporter({ nodeId: ctx.host.nodeId, propose: (c) => ctx.propose(c), now: Date.now, log: ctx.log });
  const host = ctx.host.advertise ?? "127.0.0.1";
  // run_checks = "auto": a stopgap that steps aside while the health plugin runs the node's checks.
  let healthOn = false;
  const runChecks = () => (cfg.run_checks === "auto" ? !healthOn : cfg.run_checks);
  const services = new JobServices({ apiUrl: () => ctx.host.apiUrl, token: () => ctx.host.localToken, host, runChecks, publish: (t, p) => ctx.publish(t, p), log: ctx.log });
  follow(ctx, HEALTH_STATE, (state) => {
    healthOn = state.enabled;
    services.refreshChecks();
  });
  const supervisor = new Supervisor({
    allocsDir, host, killTimeoutMs: cfg.kill_timeout, maxLogFileBytes: cfg.max_log_file_bytes, maxLogFiles: cfg.max_log_files,
    limits, services, now: Date.now, log: ctx.log, agentEnv: process.env, identity, isolate, nodeFacts: () => ctx.host.nodeFacts?.(), sandbox,
    mintWorkloadToken: ctx.host.mintWorkloadToken, apiUrl: () => ctx.host.apiUrl,
    artifacts: {
      cache: new ArtifactCache(join(dir, "artifacts"), cfg.artifact_cache_bytes),
      limits: { maxBytes: cfg.artifact_max_bytes, timeoutMs: cfg.artifact_timeout, allowedHosts: hostPatterns(cfg.artifact_allowed_hosts) ?? [] },
    },
    containers, containersOff,
    templateData: new TemplateData({ apiUrl: () => ctx.host.apiUrl, agentToken: () => ctx.host.localToken, log: ctx.log }),
    report: (allocId: string, clientStatus: RunnerStatus, description: string, taskStates: Record<string, TaskState>) =>
      reporter.report({ allocId, clientStatus, description, taskStates }),
    onRecord: (allocId: string, task: string, rec: TaskRecord) => processes.set(allocId, task, rec),
    forget: (allocId: string) => processes.forget(allocId),
  }, reporter, ctx.log, recorded);
  // Tasks write their log files themselves; the agent rotates them (copy and truncate) on this tick.
  ctx.every(LOG_ROTATE_INTERVAL_MS, () => supervisor.rotateLogs());

  const source = ctx.forward ? remoteAllocs(ctx.host.nodeId, ctx.forward) : localAllocs(ctx.host.nodeId, ctx.state);
  const watch = ctx.own(new AllocWatch(source, (allocs) => supervisor.reconcile(allocs), ctx.log));
  // Tasks interpolate ${attr.*} and ${meta.*} with the node's registration: start once there is one.
  let closed = false;
  void (async () => {
    while (!closed && ctx.host.nodeFacts && !ctx.host.nodeFacts()) await new Promise((r) => setTimeout(r, 50));
    if (!closed) watch.start();
  })();
  logRoutes({ ctx: ctx as PluginContext<unknown>, allocsDir, local: (id) => supervisor.find(id)?.alloc });
  operateRoutes({ ctx: ctx as PluginContext<unknown>, runner: (id) => supervisor.runners.get(id) });
  execRoutes({ ctx: ctx as PluginContext<unknown>, runner: (id) => supervisor.runners.get(id) });
  execWsRoutes({ ctx: ctx as PluginContext<unknown>, runner: (id) => supervisor.runners.get(id), maxSessions: cfg.exec_max_sessions, maxFrameBytes: cfg.exec_max_frame_bytes });

  const gauge = ctx.metrics.gauge({
    name: "corral_exec_running_allocations", help: "Allocations this agent is running",
    collect: () => void gauge.set([...supervisor.runners.values()].filter((r) => r.status === "running").length),
  });
  ctx.log.info("exec driver ready", { limits: limits.mode, allocsDir, taskUser: isolate ? cfg.user : agent.name, allowRaw: cfg.allow_raw, isolation: iso?.ok ? "namespaces" : "none" });

  return {
    async stop() {
      closed = true;
      watch.close();
      reporter.stop(); // the allocations stay as the leader knows them (see the header)
      services.stop();
      supervisor.detach(); // tasks run on; the next instance adopts them
      containers?.networks.detach(); // the port proxies close with the agent; the next one re-opens them
    },
  };
}

export const execPlugin: PluginModule<ExecConfig> = {
  name: "exec",
  version: EXEC_VERSION,
  description: "Task driver: runs allocations as processes with memory/CPU limits, restarts, logs and job services",
  configSchema: execConfigSchema,
  setup,
  registrationFacts: execRegistrationFacts,
};
export default execPlugin;

export { execConfigSchema, type ExecConfig } from "./config.ts";
