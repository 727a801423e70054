// Assembles a running node from its config: store and state machine
// (leader-role), HTTP routes, plugin host, membership (leader side) and the
// agent loop (agent side). `dev` is both in one process. Everything is
// built here and passed down; nothing is global.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { Registry } from "prom-client";
import type { Config } from "./config/types.ts";
import { createLogger, type Logger } from "./log.ts";
import { EventBus } from "./events.ts";
import { openStore, type Store } from "./store/db.ts";
import { currentRuntime } from "./store/driver.ts";
import { Fsm, type AppliedEntry } from "./state/fsm.ts";
import { createStateReader, emptyStateReader } from "./state/reader.ts";
import { ReplicationError, type Replicator } from "./state/replicator.ts";
import { validateProposal } from "./state/validate-proposal.ts";
import { createRouteTable } from "./http/app.ts";
import { browserGuard, HostAllowList, type Guard, type HostNames } from "./http/browser-guard.ts";
import { ownAuthorities } from "./http/rpc-receiver.ts";
import { ApiError, replicationApiError, statusForCode } from "./http/errors.ts";
import { serve, type Server } from "./http/serve.ts";
import { PluginHost } from "./plugins/host.ts";
import { builtinPlugins } from "./plugins/builtin.ts";
import { checkPluginsAtStart, startFailureMessage } from "./plugins/start-check.ts";
import type { HostInfo } from "./plugins/types.ts";
import { Membership } from "./cluster/membership.ts";
import { AgentMember } from "./cluster/agent.ts";
import { HttpLeaderTransport, LocalLeaderTransport } from "./cluster/transport.ts";
import { loadOrCreateNodeId } from "./cluster/identity.ts";
import { secureDataDir } from "./cluster/data-dir.ts";
import { lockDataDir, type DataDirLock } from "./cluster/data-dir-lock.ts";
import { bindError } from "./net/bind-error.ts";
import type { JoinRequest, LiveSample } from "./cluster/protocol.ts";
import { fingerprint } from "../plugins/probe/fingerprint.ts";
import { probeConfigSchema } from "../plugins/probe/config.ts";
import { execConfigSchema } from "../plugins/exec/config.ts";
import { execAttributes } from "./scheduler/raw.ts";
import { isolationAttributes, probeFor } from "../plugins/exec/sandbox-host.ts";
import { hostVolumeAttributes } from "./scheduler/host-volumes.ts";
import { othersMayRead } from "../plugins/exec/dirs.ts";
import type { Command } from "./state/commands.ts";
import { VERSION } from "./version.ts";
import type { CoreApiDeps } from "./api/deps.ts";
import { statusRoutes } from "./api/status.ts";
import { nodeRoutes } from "./api/nodes.ts";
import { nodeMetaRoutes } from "./api/node-meta.ts";
import { NodeMetaStore } from "./cluster/node-meta.ts";
import { pluginRoutes } from "./api/plugins.ts";
import { restartOnlyChanges } from "./config/reload-diff.ts";
import { clusterRoutes } from "./api/cluster.ts";
import { kvRoutes } from "./api/kv.ts";
import { variableRoutes } from "./api/variables.ts";
import { workloadVerifier } from "./variables/workload-verify.ts";
import { deriveIdentityKey, mintWorkloadToken } from "./variables/workload-identity.ts";
import { raftRoutes } from "./api/raft.ts";
import { jobRoutes } from "./api/jobs.ts";
import { allocationRoutes } from "./api/allocations.ts";
import { SchedulingLoop } from "./cluster/scheduling/loop.ts";
import { heartbeatFastPath } from "./cluster/heartbeat-fast.ts";
import { raftFastPath } from "./cluster/raft/fast-path.ts";
import { kvFastPath } from "./api/kv-fast.ts";
import { lockWriter } from "./api/kv-lock-write.ts";
import { sessionRoutes } from "./api/sessions.ts";
import { txnRoutes } from "./api/txn.ts";
import { SessionTimers } from "./cluster/session-timers.ts";
import { Counter } from "prom-client";
import { readGate } from "./http/read-gate.ts";
import { agentForwardFailed, leaderForward, proposeFailed } from "./http/leader-forward.ts";
import { raftLeaderGate } from "./http/raft-leader.ts";
import { heldLimit } from "./http/middleware/held-limit.ts";
import { createRaft, DEV_RAFT_ID } from "./cluster/raft/setup.ts";
import type { RaftReplicator } from "./cluster/raft/replicator.ts";
import { NodeMonitor, nodeMonitorSettings } from "./cluster/node-monitor.ts";
import { HttpMetrics } from "./http/middleware/http-metrics.ts";
import { EventHub } from "./monitor/event-hub.ts";
import { storeLogSource } from "./monitor/log-source.ts";
import { setupMonitoring } from "./monitor/setup.ts";
import { setupSecurity } from "./acl/setup.ts";
import { peerHttp, serverTls } from "./http/tls.ts";
import { RpcVerifier, type NodeKey } from "./http/middleware/cluster-auth.ts";
import { startLegacySignatureWarning } from "./cluster/legacy-signature-warning.ts";
import { proxyRequest } from "./http/proxy.ts";
import { aclFactRoutes, aclRpcRoutes, intentionRpcRoutes } from "./api/acl-rpc.ts";
import { routeListRoutes } from "./api/routes-list.ts";
import { asClientRead } from "./acl/read-scope.ts";

export interface RunningNode {
  config: Config;
  url: string;
  nodeId: string;
  log: Logger;
  plugins: PluginHost;
  /** Plugins enabled by the config that failed at start (external ones: built-in failures fail the start). */
  failedPlugins: string[];
  /** This node's agent side is registered with a leader (always false on a leader-only node). */
  agentJoined(): boolean;
  /** Re-read the config file and bring plugins in line (SIGHUP). */
  reload(next: Config): Promise<void>;
  shutdown(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /**
   * The node can no longer serve its role (its state database failed to
   * persist). By then it answers /v1/healthz with 503 and refuses writes;
   * the CLI exits non-zero (core/cli/commands/run.ts).
   */
  onFatal?: (err: Error) => void;
  /**
   * Reads the config file again (flags and env applied; throws on a bad
   * file). `corral plugins reload NAME` uses it so the plugin restarts with
   * the table the file has now, as SIGHUP would give it.
   */
  readConfig?: () => Config;
}

export async function startNode(config: Config, opts: StartOptions = {}): Promise<RunningNode> {
  const log = opts.log ?? createLogger({ level: config.node.logLevel, format: config.node.logFormat });
  const dataDir = resolve(config.node.dataDir);
  // Before anything is written: umask 077 and the modes an older corral left (core/cluster/data-dir.ts).
  const secured = secureDataDir(dataDir);
  if (secured.changed.length > 0) log.warn("data dir: made files 0600 and directories 0700 (other users could read them)", { paths: secured.changed.slice(0, 20), count: secured.changed.length });
  if (secured.failed.length > 0) log.warn("data dir: could not narrow the mode of some paths; check their owner", { paths: secured.failed.slice(0, 20), count: secured.failed.length });
  // One process per data dir (core/cluster/data-dir-lock.ts): throws DataDirInUseError naming the holder.
  const lock = await lockDataDir(dataDir);
  try {
    return await assembleNode(config, opts, log, dataDir, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** startNode once the data dir is this process's: everything else. */
async function assembleNode(config: Config, opts: StartOptions, log: Logger, dataDir: string, lock: DataDirLock): Promise<RunningNode> {
  const nodeId = loadOrCreateNodeId(dataDir);
  const role = config.role;
  const isLeaderRole = role === "leader" || role === "dev";
  const secret = config.cluster.secret || devSecret(dataDir);
  // Node RPC is signed with the cluster secret and names this node; one
  // verifier per process holds the nonces of the replay window
  // (core/http/rpc-signature.ts).
  // cluster.legacy_signatures: during a rolling upgrade from the release that
  // signed v1, every sender (they all sign with this key) and every check
  // (they all go through this verifier) follow the same mode.
  const legacy = config.cluster.legacySignatures;
  const key: NodeKey = { secret, node: nodeId, legacy };
  // node.advertise may carry its own port (a NAT or proxy in front of this node).
  const advertised = /^(\[[^\]]+\]|[^:\[\]]+):(\d{1,5})$/.exec(config.node.advertise);
  const advertiseHost = advertised ? advertised[1]! : config.node.advertise;
  const selfAddress = advertised ? config.node.advertise : `${advertiseHost}:${config.node.httpPort}`;

  // [tls]: how this node calls its peers and leaders (core/http/tls.ts).
  const peer = peerHttp(config.tls);
  // A signature must name this node (core/http/rpc-receiver.ts): one of the
  // names of the browser guard's Host allow-list (rebuilt on reload), with
  // the port this node listens on or advertises.
  const hostNames = (c: Config): HostNames => ({ bind: c.node.bind, advertise: advertiseHost, allowedHosts: c.http.allowedHosts });
  let ownNames = new HostAllowList(hostNames(config));
  let listeningPort = config.node.httpPort;
  const ownPorts = advertised ? [Number(advertised[2])] : [];
  const verifier = new RpcVerifier({
    secret, legacy, log,
    isOurs: ownAuthorities({ isOwnName: (h) => ownNames.isOwnName(h), ports: () => [listeningPort, ...ownPorts] }),
  });
  const legacyWarning = startLegacySignatureWarning(legacy, log);
  const bus = new EventBus();
  const metrics = new Registry();
  const host: HostInfo = { nodeId, nodeName: config.node.name, role, dataDir, datacenter: config.node.datacenter, advertise: advertiseHost };
  // Static ([node] meta) and dynamic node meta (core/cluster/node-meta.ts), for nodes that run an agent.
  const nodeMeta = role === "agent" || role === "dev" ? new NodeMetaStore(dataDir, config.node.meta, (m, f) => log.warn(m, f)) : undefined;
  // What task interpolation reads (${attr.*}, ${meta.*}): the node as it last registered (set below, once it did).
  let registered: JoinRequest | undefined;
  if (nodeMeta) host.nodeFacts = () => registered && { id: registered.id, name: registered.name, datacenter: registered.datacenter, attributes: registered.attributes, meta: registered.meta };

  let store: Store | undefined;
  let raft: RaftReplicator | undefined;
  let state = emptyStateReader;
  let events: EventHub | undefined;
  /** Why this node stopped serving its role, once it did (reported by /v1/healthz). */
  let failure: string | undefined;
  if (isLeaderRole) {
    store = await openStore(join(dataDir, "state.db"), { sync: config.raft.sync });
    const fsm = new Fsm(store);
    fsm.onApplied((e) => bus.publish("applied", e));
    raft = createRaft({
      config, selfAddress, key, store, fsm, log, peer,
      onFatal: (err) => {
        failure = `state database failed: ${err.message}`;
        opts.onFatal?.(err);
      },
    });
    state = createStateReader(store, fsm);
    events = new EventHub({ source: storeLogSource(store, fsm), log, maxStreams: config.http.maxEventStreams });
  }
  const replicator: Replicator | undefined = raft;

  // Agents reach the leaders over signed HTTP; leader-role nodes write locally.
  const leaderClient = isLeaderRole ? undefined : new HttpLeaderTransport(config.agent.leaders, key, undefined, peer);
  // An agent passes client requests to the leaders; when none answers, the client gets a 503 (never a 500).
  const forwardToLeaders = leaderClient
    ? (req: Request) => leaderClient.forward(req).catch((err: unknown): never => { throw agentForwardFailed(req, err); })
    : undefined;
  const propose = async (cmd: Command) => {
    try {
      if (leaderClient) return await leaderClient.propose(cmd);
      // What would fail on every replica never enters the log (a bad snapshot: 400 naming the row).
      const refused = await validateProposal(cmd);
      if (refused) throw new ApiError(400, refused.code, refused.message);
      return await replicator!.propose(cmd);
    } catch (err) {
      if (err instanceof ReplicationError) toApiError(err);
      throw proposeFailed(err, leaderClient !== undefined);
    }
  };

  // ACLs, rate limits, audit (core/acl/setup.ts; docs/acl.md).
  const security = setupSecurity({
    config, log, verifier, propose, state: isLeaderRole ? state : undefined,
    remoteLookup: leaderClient ? (h) => leaderClient.resolveToken(h) : undefined,
    remoteIntentions: leaderClient ? () => leaderClient.intentions() : undefined,
    remoteFact: leaderClient ? (q) => leaderClient.aclFact(q) : undefined,
    workload: workloadVerifier({ clusterSecret: secret, state: isLeaderRole ? () => state : undefined, fact: leaderClient ? (q) => leaderClient.aclFact(q) : undefined }),
    onApplied: (fn) => void bus.subscribe("applied", (e) => fn((e as AppliedEntry).command.type, (e as AppliedEntry).index)),
  });
  host.localToken = security.localToken;
  // Tasks' workload identities (core/variables/workload-identity.ts), minted where the exec plugin starts them.
  const identityKey = deriveIdentityKey(secret);
  host.mintWorkloadToken = (allocId, task) => mintWorkloadToken(identityKey, { allocId, task });
  // Call checks (intentions) for the invoke plugin, beside the ACL reads.
  state = { ...state, acl: { ...state.acl, ...security.calls } };

  const httpMetrics = new HttpMetrics({ registry: metrics });
  const routes = createRouteTable({
    log,
    version: VERSION,
    maxBodyBytes: config.http.maxBodyBytes,
    verifier,
    appliedIndex: () => state.appliedIndex(),
    maxPeerMessageBytes: config.raft.maxMessageBytes,
    stateRead: raft
      ? readGate({ status: () => raft!.status(), readBarrier: () => raft!.readBarrier(), leaseBarrier: () => raft!.leaseBarrier(), key, scheme: peer.scheme, fetch: peer.fetch })
      : undefined,
    outer: [httpMetrics.middleware(), ...security.outer],
    // Fair shares of held requests (event streams, log follows, blocking queries) per token and address.
    extra: [...security.middlewares, heldLimit({
      streamsPerToken: config.http.maxStreamsPerToken, streamsPerAddress: config.http.maxStreamsPerAddress,
      blockingPerToken: config.http.maxBlockingPerToken, blockingPerAddress: config.http.maxBlockingPerAddress,
    })],
    // "forward" and "read" routes on an agent (core/http/leader-routing.ts).
    forward: leaderClient ? leaderForward((req) => leaderClient.forward(req)) : undefined,
    raftLeader: raft ? raftLeaderGate({ status: () => raft!.status(), key, scheme: peer.scheme, fetch: peer.fetch }) : undefined,
    routeMiddleware: security.routeMiddleware,
  });

  let settings = config.plugins.settings;
  const plugins = new PluginHost({
    log, routes, bus, state, propose, host, metrics,
    forward: forwardToLeaders,
    // Another node's API, with this node's scheme and TLS trust (exec's log proxying).
    forwardTo: (address, req) => proxyRequest(`${peer.scheme}://${address}`, req, undefined, undefined, peer.fetch),
    replication: () => replicator?.status(),
  }, () => settings, (name) => {
    if (!opts.readConfig) return;
    const fresh = opts.readConfig().plugins.settings;
    settings = { ...settings };
    if (fresh[name]) settings[name] = fresh[name]!;
    else delete settings[name];
    if (name === "authz") security.reload(settings.authz);
  });
  for (const mod of builtinPlugins()) plugins.registerBuiltin(mod);
  if (config.plugins.dir) {
    const dir = resolve(config.plugins.dir);
    await plugins.loadExternal(dir);
    if (config.plugins.watch) plugins.watchExternal(dir);
  }

  const nodeMonitor = isLeaderRole && replicator
    ? new NodeMonitor({ replicator, state, log, ...nodeMonitorSettings(config.leader) })
    : undefined;
  const membership = isLeaderRole && replicator
    ? new Membership({ replicator, state, log, bus, nodeTtlMs: config.leader.nodeTtlMs, heartbeatMs: config.agent.heartbeatMs, monitor: nodeMonitor })
    : undefined;

  // Jobs are scheduled by the active Raft leader only (see core/cluster/scheduling/loop.ts).
  const scheduling = isLeaderRole && raft
    ? new SchedulingLoop({ state, propose: (c) => raft!.propose(c), isLeader: () => raft!.status().isLeader, bus, log: log.child({ component: "scheduler" }), preemption: config.leader.schedulerPreemption, jobTrackedVersions: config.leader.jobTrackedVersions })
    : undefined;

  let agent: AgentMember | undefined;
  const deps: CoreApiDeps = {
    routes, plugins, host, version: VERSION, runtime: currentRuntime(),
    advertise: advertiseHost, port: config.node.httpPort, startedAt: Date.now(),
    state, replicator, membership,
    leaderAddress: () => (replicator ? replicator.status().leader : config.agent.leaders[0]),
    peers: () => (raft ? raft.raftStatus().voters.map((v) => (v === DEV_RAFT_ID ? selfAddress : v)) : config.agent.leaders),
    agentJoined: () => agent?.isJoined() ?? false,
    propose,
    // Core routes pass only clients' requests on: reads are marked so the leader cuts them to the client's token.
    forward: forwardToLeaders ? (req) => forwardToLeaders(asClientRead(req)) : undefined,
    peerHttp: peer,
    key,
    failure: () => failure,
    sessionTtlMinMs: config.leader.sessionTtlMinMs,
    jobTrackedVersions: config.leader.jobTrackedVersions,
  };
  // Session TTLs run on the active Raft leader only (core/cluster/session-timers.ts).
  const sessionTimers = raft
    ? new SessionTimers({
      listSessions: () => state.sessions.list(), getSession: (id) => state.sessions.get(id),
      propose: (c) => raft!.propose(c), isLeader: () => raft!.status().isLeader, log: log.child({ component: "sessions" }),
    })
    : undefined;
  statusRoutes(deps);
  nodeRoutes(deps);
  nodeMetaRoutes(deps, { local: nodeMeta && { store: nodeMeta, reregister: async () => agent?.reregister() } });
  pluginRoutes(deps);
  clusterRoutes(deps);
  aclRpcRoutes(deps);
  intentionRpcRoutes(deps);
  aclFactRoutes(deps);
  routeListRoutes(deps);
  // One lock writer for the KV route and its fast path: one AcquireQueue per node (core/api/kv-lock-write.ts).
  const kvLocks = lockWriter(deps);
  kvRoutes(deps, kvLocks);
  sessionRoutes(deps, {
    ttlMinMs: config.leader.sessionTtlMinMs, timers: sessionTimers,
    confirmLeader: raft ? () => raft!.readBarrier().catch(toApiError) : undefined,
  });
  txnRoutes(deps);
  jobRoutes(deps, scheduling);
  allocationRoutes(deps);
  variableRoutes(deps, { db: store?.db, clusterSecret: secret });
  if (raft && store) raftRoutes(deps, raft, store);
  const monitoring = setupMonitoring({ api: deps, registry: metrics, bus, events, raft, nodeMonitor });

  await plugins.reconcile(new Set(config.plugins.enabled), false);
  const pluginCheck = checkPluginsAtStart(plugins.list(), config.plugins.enabled);
  if (pluginCheck.fatal.length > 0) {
    monitoring.close();
    await plugins.stopAll();
    store?.close();
    throw new Error(startFailureMessage(pluginCheck.fatal));
  }
  if (pluginCheck.degraded.length > 0) log.warn("plugins failed at start; the node runs without them", { plugins: pluginCheck.degraded });

  const guardFor = (c: Config): Guard => {
    ownNames = new HostAllowList(hostNames(c));
    return browserGuard({ ...hostNames(c), hosts: ownNames, allowedOrigins: c.http.allowedOrigins, verifier, maxBodyBytes: c.http.maxBodyBytes, log });
  };
  let guard = guardFor(config);

  let server: Server;
  // Outside the try below: an unreadable certificate is not a bind error.
  const tls = serverTls(config.tls);
  try {
    // A fast path that read a body whose signature then failed hands the same
    // bytes to the route table, which refuses and audits it. The Bun server
    // knows the client's address only for the request it received, so
    // requestIP answers for the original.
    const refusedByRouteTable = (req: Request, env: unknown, original: Request) => {
      const server = env as { requestIP?: (r: Request) => unknown } | undefined;
      const wrapped = server?.requestIP ? { requestIP: () => server.requestIP!(original) } : env;
      return routes.fetch(req, wrapped);
    };
    // Heartbeats are most of a big cluster's requests: the leader answers them before the route table.
    const fast = membership && raft
      ? heartbeatFastPath({
        verifier, membership, isLeader: () => raft!.status().isLeader, maxBodyBytes: config.http.maxBodyBytes,
        fallback: refusedByRouteTable,
        counter: new Counter({ name: "corral_cluster_heartbeats_total", help: "Agent heartbeats answered by this leader", registers: [metrics] }),
      })
      : undefined;
    // Peer messages likewise: one or two per follower per replicated write.
    const raftFast = raft ? raftFastPath({ verifier, maxMessageBytes: config.raft.maxMessageBytes, step: (m) => raft!.step(m), fallback: refusedByRouteTable }) : undefined;
    // And the plain KV write, the hot client write (agents forward theirs through the route).
    const kvFast = raft
      ? kvFastPath({ propose, open: security.open, maxBodyBytes: config.http.maxBodyBytes, metrics: httpMetrics, log, locks: kvLocks })
      : undefined;
    const inner = fast || raftFast || kvFast
      ? (req: Request, env?: unknown) => raftFast?.(req, env) ?? kvFast?.(req) ?? fast?.(req, env) ?? routes.fetch(req, env)
      : routes.fetch;
    // Host allow-list and cross-site refusal before anything else, fast paths included (core/http/browser-guard.ts).
    // Its refusals of writes are audited here: they never reach the audit middleware.
    const handler = (req: Request, env?: unknown): Response | Promise<Response> => {
      const refused = guard(req);
      if (refused === undefined) return inner(req, env);
      const audited = (r: Response) => {
        security.auditEarlyRefusal(req, env, r.status);
        return r;
      };
      if (refused instanceof Response) return audited(refused);
      return refused.then((r) => (r ? audited(r) : inner(req, env)));
    };
    server = await serve(handler, { hostname: config.node.bind, port: config.node.httpPort, tls });
  } catch (err) {
    monitoring.close();
    await plugins.stopAll();
    store?.close();
    throw bindError(err, {
      listener: "http", address: config.node.bind, port: config.node.httpPort,
      portHint: "set node.http_port (or --http-port, --ports, CORRAL_NODE_HTTP_PORT) to a free port", bindHint: "check node.bind",
    });
  }
  deps.port = server.port;
  listeningPort = server.port;
  const url = `${config.tls.certFile ? "https" : "http"}://${config.node.bind.includes(":") ? `[${config.node.bind}]` : config.node.bind}:${server.port}`;
  host.apiUrl = url;

  raft?.start();
  membership?.start();
  if (raft && membership) raft.onLeadershipChange((isLeader) => isLeader && membership.becameLeader());
  if (raft && scheduling) raft.onLeadershipChange((isLeader) => scheduling.leadershipChanged(isLeader));
  if (raft && sessionTimers) {
    raft.onLeadershipChange((isLeader) => sessionTimers.leadershipChanged(isLeader));
    bus.subscribe("applied", (e) => sessionTimers.applied(e as AppliedEntry));
    sessionTimers.leadershipChanged(raft.status().isLeader);
  }
  scheduling?.start();

  if (role === "agent" || role === "dev") {
    let latest: LiveSample | undefined;
    bus.subscribe("probe.sample", (s) => (latest = s as LiveSample));
    const registration = async (): Promise<JoinRequest> => {
      // The probe table's overrides apply even while the probe plugin is off.
      const parsed = probeConfigSchema.safeParse(settings.probe ?? {});
      const { interval: _interval, ...overrides } = parsed.success ? parsed.data : { interval: 0 };
      const fp = await fingerprint({ dataDir, overrides });
      for (const w of fp.warnings) log.warn("fingerprint: " + w);
      // What the exec driver may run here, for placement (core/scheduler/raw.ts).
      const exec = execConfigSchema.safeParse(settings.exec ?? {});
      Object.assign(fp.attributes, execAttributes(process.getuid?.() === 0, exec.success && exec.data.allow_raw));
      // Whether its tasks can be isolated (plugins/exec/sandbox-host.ts): tasks requiring it go only where they can be.
      if (exec.success) Object.assign(fp.attributes, isolationAttributes(probeFor(exec.data, dataDir)));
      Object.assign(fp.attributes, hostVolumeAttributes(config.node.hostVolumes));
      return {
        id: nodeId, name: config.node.name, address: advertised ? selfAddress : `${advertiseHost}:${server.port}`,
        datacenter: config.node.datacenter, role: role === "dev" ? "dev" : "agent",
        attributes: fp.attributes,
        resources: fp.resources,
        reserved: fp.reserved,
        meta: nodeMeta?.effective() ?? {},
      };
    };
    const register = async () => (registered = await registration());
    const transport = membership ? new LocalLeaderTransport(membership) : leaderClient!;
    agent = new AgentMember({
      transport, registration: register, latestSample: () => latest, heartbeatMs: config.agent.heartbeatMs, log, legacy,
      // Plugins that keep state on a leader (discovery's anti-entropy) resync after every (re)join.
      onJoined: () => bus.publish("agent.joined", { nodeId }),
    });
    agent.start();
  }

  log.info("corral started", { role, node: config.node.name, nodeId, url, dataDir, version: VERSION, runtime: currentRuntime() });
  // Tasks and exec checks run as other users: a config file they can read hands them the cluster secret.
  if (config.file && othersMayRead(config.file) && /^\s*secret\s*=/m.test(readFileSync(config.file, "utf8"))) {
    log.warn("the config file holds cluster.secret and other users may read it (task users included): chmod 600 it", { file: config.file });
  }

  let stopping: Promise<void> | undefined;
  /** The configuration in effect (what a reload compares against). */
  let running: Config = config;
  return {
    config, url, nodeId, log, plugins, failedPlugins: pluginCheck.degraded,
    agentJoined: () => agent?.isJoined() ?? false,
    async reload(next: Config) {
      // Keys read only at start are kept as they are, and said so: a silent no-op looks like a bug.
      const needRestart = restartOnlyChanges(running, next);
      for (const key of needRestart) log.warn(`${key} changed: restart to apply`, { key });
      settings = next.plugins.settings;
      security.reload(settings.authz);
      guard = guardFor(next);
      await plugins.useExternalDir(next.plugins.dir ? resolve(next.plugins.dir) : "", next.plugins.watch);
      await plugins.reconcile(new Set(next.plugins.enabled), true);
      running = { ...next, node: running.node, cluster: running.cluster, leader: running.leader, raft: running.raft, agent: running.agent, tls: running.tls, role: running.role, http: { ...running.http, allowedHosts: next.http.allowedHosts, allowedOrigins: next.http.allowedOrigins, maxBodyBytes: next.http.maxBodyBytes } };
      log.info("configuration reloaded", { file: next.file, ...(needRestart.length ? { restartToApply: needRestart } : {}) });
    },
    shutdown() {
      stopping ??= (async () => {
        legacyWarning();
        agent?.stop();
        membership?.stop();
        scheduling?.stop();
        sessionTimers?.stop();
        // Event streams never end by themselves: close them so the server can stop.
        monitoring.close();
        await server.stop();
        await plugins.stopAll();
        // The last audit records, while the log still takes writes (bounded: a lost leader must not hang shutdown).
        await Promise.race([security.close(), new Promise((r) => setTimeout(r, 2_000))]);
        await replicator?.close();
        store?.close();
        lock.release();
        log.info("corral stopped");
      })();
      return stopping;
    },
  };
}

/**
 * A dev node with no configured secret gets a random one, kept in its data
 * dir so that a local agent can be pointed at it (see README).
 */
function devSecret(dataDir: string): string {
  const file = join(dataDir, "cluster-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const s = randomBytes(24).toString("base64url");
  writeFileSync(file, s + "\n", { mode: 0o600 });
  return s;
}

/** Replication refusals become API errors with their status (503 NOT_LEADER, 504 TIMEOUT...). */
function toApiError(err: unknown): never {
  if (err instanceof ReplicationError) {
    throw replicationApiError(err);
  }
  throw err;
}
