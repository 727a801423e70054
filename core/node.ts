// Assembles a running node from its config: store and state machine
// (leader-role), HTTP routes, plugin host, membership (leader side) and the
// agent loop (agent side). `dev` is both in one process. Everything is
// built here and passed down; nothing is global.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Registry } from "prom-client";
import type { Config } from "./config/types.ts";
import { createLogger, type Logger } from "./log.ts";
import { EventBus } from "./events.ts";
import { openStore, type Store } from "./store/db.ts";
import { currentRuntime } from "./store/driver.ts";
import { Fsm, type AppliedEntry } from "./state/fsm.ts";
import { createStateReader, emptyStateReader, type StateReader } from "./state/reader.ts";
import { ReplicationError, type Replicator } from "./state/replicator.ts";
import { validateProposal } from "./state/validate-proposal.ts";
import { createRouteTable } from "./http/app.ts";
import type { Guard } from "./http/browser-guard.ts";
import { ApiError, replicationApiError, statusForCode } from "./http/errors.ts";
import { gzipOffers } from "./http/gzip-answer.ts";
import { serve, type Server } from "./http/serve.ts";
import { dispatchingWebSocket } from "./http/websocket-upgrade.ts";
import { peerWebSocket } from "./http/peer-websocket.ts";
import { PluginHost } from "./plugins/host.ts";
import { builtinPlugins } from "./plugins/builtin.ts";
import { checkPluginsAtStart, startFailureMessage } from "./plugins/start-check.ts";
import type { HostInfo } from "./plugins/types.ts";
import { Membership } from "./cluster/membership.ts";
import { JoinAdmission } from "./cluster/join-admission.ts";
import { AgentMember } from "./cluster/agent.ts";
import { HttpLeaderTransport, LocalLeaderTransport } from "./cluster/transport.ts";
import { nodeIdentity, OwnAddresses, rpcVerifier, type NodeIdentity } from "./node/identity.ts";
import { secureDataDir } from "./cluster/data-dir.ts";
import { lockDataDir, type DataDirLock } from "./cluster/data-dir-lock.ts";
import { bindError } from "./net/bind-error.ts";
import type { JoinRequest, LiveSample } from "./cluster/protocol.ts";
import { hostVolumeAttributes } from "./scheduler/host-volumes.ts";
import { othersMayRead } from "./config/file-access.ts";
import { collectRegistrationFacts } from "./plugins/registration-facts.ts";
import type { Command } from "./state/commands.ts";
import { VERSION } from "./version.ts";
import type { CoreApiDeps } from "./api/deps.ts";
import { statusRoutes } from "./api/status.ts";
import { nodeRoutes } from "./api/nodes.ts";
import { summaryRoutes } from "./api/summary.ts";
import { nodeMetaRoutes } from "./api/node-meta.ts";
import { NodeMetaStore } from "./cluster/node-meta.ts";
import { pluginRoutes } from "./api/plugins.ts";
import { restartOnlyChanges } from "./config/reload-diff.ts";
import { clusterRoutes } from "./api/cluster.ts";
import { kvRoutes } from "./api/kv.ts";
import { variableRoutes } from "./api/variables.ts";
import { connectCaRoutes } from "./api/connect-ca.ts";
import { ConnectCa } from "./connect/ca.ts";
import { meshCaAccess, remoteSigner } from "./connect/access.ts";
import { loadExternalCa } from "./connect/external.ts";
import { workloadVerifier } from "./variables/workload-verify.ts";
import { deriveIdentityKey, mintWorkloadToken } from "./variables/workload-identity.ts";
import { raftRoutes, raftRoutesOnAgent } from "./api/raft.ts";
import { jobRoutes } from "./api/jobs.ts";
import { allocationRoutes } from "./api/allocations.ts";
import { SchedulingLoop } from "./cluster/scheduling/loop.ts";
import { GcLoop } from "./cluster/gc/loop.ts";
import { systemGcRoutes } from "./api/system-gc.ts";
import { raftStreamServer } from "./cluster/raft/stream-server.ts";
import { lockWriter } from "./api/kv-lock-write.ts";
import { sessionRoutes } from "./api/sessions.ts";
import { txnRoutes } from "./api/txn.ts";
import { SessionTimers } from "./cluster/session-timers.ts";
import { Counter } from "prom-client";
import { leaderReadBarrier, readGate } from "./http/read-gate.ts";
import { HeldSlots, heldLimit } from "./http/middleware/held-limit.ts";
import { agentForwardFailed, leaderForward, proposeFailed } from "./http/leader-forward.ts";
import { raftLeaderGate } from "./http/raft-leader.ts";
import { createRaft, DEV_RAFT_ID } from "./cluster/raft/setup.ts";
import type { RaftReplicator } from "./cluster/raft/replicator.ts";
import { NodeMonitor, nodeMonitorSettings } from "./cluster/node-monitor.ts";
import { HttpMetrics } from "./http/middleware/http-metrics.ts";
import { EventHub } from "./monitor/event-hub.ts";
import { storeLogSource } from "./monitor/log-source.ts";
import { setupMonitoring } from "./monitor/setup.ts";
import { setupSecurity, type Security } from "./acl/setup.ts";
import { peerHttp, serverTls, type PeerHttp } from "./http/tls.ts";
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
  const { dataDir, lock } = await openDataDir(config, log);
  try {
    return await assembleNode(config, opts, log, dataDir, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * The data dir made private and this process's: umask 077 and the modes an
 * older corral left (core/cluster/data-dir.ts), then one process per data
 * dir (core/cluster/data-dir-lock.ts: throws DataDirInUseError naming the holder).
 */
async function openDataDir(config: Config, log: Logger): Promise<{ dataDir: string; lock: DataDirLock }> {
  const dataDir = resolve(config.node.dataDir);
  // Before anything is written.
  const secured = secureDataDir(dataDir);
  if (secured.changed.length > 0) log.warn("data dir: made files 0600 and directories 0700 (other users could read them)", { paths: secured.changed.slice(0, 20), count: secured.changed.length });
  if (secured.failed.length > 0) log.warn("data dir: could not narrow the mode of some paths; check their owner", { paths: secured.failed.slice(0, 20), count: secured.failed.length });
  const lock = await lockDataDir(dataDir);
  return { dataDir, lock };
}

/**
 * startNode once the data dir is this process's. Each step below is a
 * function of what the earlier ones returned; the only values bound late are
 * the ones that exist only once the server listens (its port, the agent,
 * which registers with that port) and those a reload replaces (plugin
 * settings, the browser guard).
 */
async function assembleNode(config: Config, opts: StartOptions, log: Logger, dataDir: string, lock: DataDirLock): Promise<RunningNode> {
  const id = nodeIdentity(config, dataDir);
  const { nodeId, role, isLeaderRole, secret, legacy, key, advertiseHost, selfAddress } = id;
  // [tls]: how this node calls its peers and leaders (core/http/tls.ts).
  const peer = peerHttp(config.tls);
  const own = new OwnAddresses(id, config);
  const verifier = rpcVerifier(id, own, log);
  const legacyWarning = startLegacySignatureWarning(legacy, log);
  const bus = new EventBus();
  const metrics = new Registry();
  const host: HostInfo = { nodeId, nodeName: config.node.name, role, dataDir, datacenter: config.node.datacenter, advertise: advertiseHost };
  // Static ([node] meta) and dynamic node meta (core/cluster/node-meta.ts), for nodes that run an agent.
  const nodeMeta = role === "agent" || role === "dev" ? new NodeMetaStore(dataDir, config.node.meta, (m, f) => log.warn(m, f)) : undefined;
  // What task interpolation reads (${attr.*}, ${meta.*}): the node as it last registered (set by the agent, once it did).
  const registered: { current?: JoinRequest } = {};
  if (nodeMeta) host.nodeFacts = () => { const r = registered.current; return r && { id: r.id, name: r.name, datacenter: r.datacenter, attributes: r.attributes, meta: r.meta }; };

  /** Why this node stopped serving its role, once it did (reported by /v1/healthz). */
  let failure: string | undefined;
  const leaderState = isLeaderRole
    ? await openState(config, {
      dataDir, selfAddress, key, peer, log, bus,
      onFatal: (err) => {
        failure = `state database failed: ${err.message}`;
        opts.onFatal?.(err);
      },
    })
    : undefined;
  const store = leaderState?.store;
  const raft = leaderState?.raft;
  const replicator: Replicator | undefined = raft;

  const { leaderClient, forwardToLeaders, propose } = leaderAccess(config, key, peer, replicator);

  // ACLs, rate limits, audit (core/acl/setup.ts; docs/acl.md).
  const security = setupSecurity({
    config, log, verifier, propose, state: leaderState?.state,
    remoteLookup: leaderClient ? (h) => leaderClient.resolveToken(h) : undefined,
    remoteIntentions: leaderClient ? () => leaderClient.intentions() : undefined,
    remoteFact: leaderClient ? (q) => leaderClient.aclFact(q) : undefined,
    workload: workloadVerifier({ clusterSecret: secret, state: leaderState ? () => leaderState.state : undefined, fact: leaderClient ? (q) => leaderClient.aclFact(q) : undefined }),
    onApplied: (fn) => void bus.subscribe("applied", (e) => fn((e as AppliedEntry).command.type, (e as AppliedEntry).index)),
  });
  host.localToken = security.localToken;
  // Tasks' workload identities (core/variables/workload-identity.ts), minted where the exec plugin starts them.
  const identityKey = deriveIdentityKey(secret);
  host.mintWorkloadToken = (allocId, task) => mintWorkloadToken(identityKey, { allocId, task });
  // What every consumer reads: the replicated state (empty on an agent) with
  // the call checks (intentions) for the invoke plugin beside the ACL reads.
  const baseState = leaderState?.state ?? emptyStateReader;
  const state: StateReader = { ...baseState, acl: { ...baseState.acl, ...security.calls } };

  const { routes } = buildRouteTable(config, { log, verifier, state, raft, key, peer, metrics, security, leaderClient });
  const { plugins, settings } = await loadPlugins(config, opts, {
    log, routes, bus, state, propose, host, metrics, peer, security, replicator, key,
    forward: forwardToLeaders,
  });
  const leader = raft ? leaderServices(config, { raft, state, log, bus }) : undefined;

  // Bound once the agent starts (below, after the server listens: it registers with the port).
  let agent: AgentMember | undefined;
  const deps = coreApiDeps(config, {
    routes, plugins, host, id, state, raft, membership: leader?.membership, propose, forwardToLeaders, peer,
    agentJoined: () => agent?.isJoined() ?? false,
    failure: () => failure,
  });
  registerCoreRoutes(config, deps, {
    secret, store, raft, leader, metrics, leaderClient,
    nodeMeta: nodeMeta && { store: nodeMeta, reregister: async () => agent?.reregister() },
  });
  const monitoring = setupMonitoring({ api: deps, registry: metrics, bus, events: leaderState?.events, raft, nodeMonitor: leader?.nodeMonitor });

  await plugins.reconcile(new Set(config.plugins.enabled), false);
  const pluginCheck = checkPluginsAtStart(plugins.list(), config.plugins.enabled);
  if (pluginCheck.fatal.length > 0) {
    monitoring.close();
    await plugins.stopAll();
    store?.close();
    throw new Error(startFailureMessage(pluginCheck.fatal));
  }
  if (pluginCheck.degraded.length > 0) log.warn("plugins failed at start; the node runs without them", { plugins: pluginCheck.degraded });

  // Replaced on reload (its Host allow-list and origins follow the config file).
  const guard = { current: own.guardFor(config, verifier, log) };
  let server: Server;
  try {
    server = await serveHttp(config, { routes, guard, security, verifier, raft, metrics, log });
  } catch (err) {
    monitoring.close();
    await plugins.stopAll();
    store?.close();
    throw err;
  }
  deps.port = server.port;
  own.port = server.port;
  const url = `${config.tls.certFile ? "https" : "http"}://${config.node.bind.includes(":") ? `[${config.node.bind}]` : config.node.bind}:${server.port}`;
  host.apiUrl = url;

  if (raft && leader) startLeaderRole(raft, leader, bus);
  if (role === "agent" || role === "dev") {
    agent = startAgentRole(config, {
      id, dataDir, log, bus, settings, nodeMeta, port: server.port,
      transport: leader ? new LocalLeaderTransport(leader.membership) : leaderClient!,
      onRegistered: (r) => (registered.current = r),
    });
  }

  log.info("corral started", { role, node: config.node.name, nodeId, url, dataDir, version: VERSION, runtime: currentRuntime() });
  warnIfSecretReadable(config, log);

  return {
    config, url, nodeId, log, plugins, failedPlugins: pluginCheck.degraded,
    agentJoined: () => agent?.isJoined() ?? false,
    ...nodeLifecycle(config, {
      log, settings, security, guard, own, verifier, plugins, legacyWarning, leader, monitoring, server, replicator, store, lock,
      agent: () => agent,
    }),
  };
}

interface LeaderState {
  store: Store;
  raft: RaftReplicator;
  /** The replicated state as the FSM applied it. */
  state: StateReader;
  events: EventHub;
}

/** A leader-role node's state database, FSM and Raft replicator (not started yet). */
async function openState(config: Config, o: {
  dataDir: string; selfAddress: string; key: NodeKey; peer: PeerHttp; log: Logger; bus: EventBus; onFatal: (err: Error) => void;
}): Promise<LeaderState> {
  const store = await openStore(join(o.dataDir, "state.db"), { sync: config.raft.sync });
  const fsm = new Fsm(store);
  fsm.onApplied((e) => o.bus.publish("applied", e));
  const raft = createRaft({ config, selfAddress: o.selfAddress, key: o.key, store, fsm, log: o.log, peer: o.peer, onFatal: o.onFatal });
  const state = createStateReader(store, fsm);
  const events = new EventHub({ source: storeLogSource(store, fsm), log: o.log, maxStreams: config.http.maxEventStreams });
  return { store, raft, state, events };
}

/**
 * How this node reaches the leader: agents over signed HTTP, leader-role
 * nodes through their own replicator.
 */
function leaderAccess(config: Config, key: NodeKey, peer: PeerHttp, replicator: Replicator | undefined) {
  const leaderClient = replicator ? undefined : new HttpLeaderTransport(config.agent.leaders, key, undefined, peer);
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
      throw proposeFailed(err);
    }
  };
  return { leaderClient, forwardToLeaders, propose };
}

type Propose = ReturnType<typeof leaderAccess>["propose"];

/** The route table with its middleware stack: metrics, security, held-request limits, the read gate. */
function buildRouteTable(config: Config, o: {
  log: Logger; verifier: RpcVerifier; state: StateReader; raft?: RaftReplicator; key: NodeKey; peer: PeerHttp; metrics: Registry; security: Security;
  leaderClient?: HttpLeaderTransport;
}) {
  const { raft, security, leaderClient } = o;
  const httpMetrics = new HttpMetrics({ registry: o.metrics });
  const held = {
    streamsPerToken: config.http.maxStreamsPerToken, streamsPerAddress: config.http.maxStreamsPerAddress,
    blockingPerToken: config.http.maxBlockingPerToken, blockingPerAddress: config.http.maxBlockingPerAddress,
  };
  const slots = new HeldSlots(held);
  const routes = createRouteTable({
    log: o.log,
    version: VERSION,
    maxBodyBytes: config.http.maxBodyBytes,
    verifier: o.verifier,
    appliedIndex: () => o.state.appliedIndex(),
    maxPeerMessageBytes: config.raft.maxMessageBytes,
    stateRead: raft
      ? readGate({ status: () => raft.status(), readBarrier: () => raft.readBarrier(), leaseBarrier: () => raft.leaseBarrier(), key: o.key, scheme: o.peer.scheme, fetch: o.peer.fetch })
      : undefined,
    outer: [httpMetrics.middleware(), ...security.outer],
    // Fair shares of held requests (event streams, log follows, blocking queries) per token and address.
    extra: [...security.middlewares, heldLimit(held, slots)],
    // "forward" and "read" routes on an agent, "leader" routes on a follower (core/http/leader-routing.ts).
    forward: leaderClient ? leaderForward((req) => leaderClient.forward(req)) : undefined,
    raftLeader: raft ? raftLeaderGate({ status: () => raft.status(), key: o.key, scheme: o.peer.scheme, fetch: o.peer.fetch }) : undefined,
    routeMiddleware: security.routeMiddleware,
    // Routes' fast paths (Raft messages, heartbeats, KV writes and key reads) before hono: core/http/fast-route.ts.
    // A fast blocking read takes the same held slots and waits at the same read gate as its route.
    fast: {
      open: security.open, metrics: httpMetrics, held: slots,
      leaderRead: raft ? leaderReadBarrier({ readBarrier: () => raft.readBarrier(), leaseBarrier: () => raft.leaseBarrier() }) : undefined,
    },
  });
  return { routes, httpMetrics };
}

type RouteTable = ReturnType<typeof createRouteTable>;
/** The [plugins.settings] tables in effect: replaced on reload and by `corral plugins reload NAME`. */
type PluginSettings = { current: Config["plugins"]["settings"] };

/** The plugin host with the built-in plugins registered and the external ones loaded (none started yet). */
async function loadPlugins(config: Config, opts: StartOptions, o: {
  log: Logger; routes: RouteTable; bus: EventBus; state: StateReader; propose: Propose; host: HostInfo; metrics: Registry;
  peer: PeerHttp; security: Security; replicator?: Replicator; forward?: (req: Request) => Promise<Response>; key: NodeKey;
}): Promise<{ plugins: PluginHost; settings: PluginSettings }> {
  const { peer, security } = o;
  const settings: PluginSettings = { current: config.plugins.settings };
  const plugins = new PluginHost({
    log: o.log, routes: o.routes, bus: o.bus, state: o.state, propose: o.propose, host: o.host, metrics: o.metrics,
    forward: o.forward,
    // Another node's API, with this node's scheme and TLS trust (exec's log proxying).
    forwardTo: (address, req) => proxyRequest(`${peer.scheme}://${address}`, req, undefined, undefined, peer.fetch),
    peerWebSocket: o.key.secret ? (address, pathAndQuery, headers) => peerWebSocket(peer, o.key, address, pathAndQuery, headers) : undefined,
    replication: () => o.replicator?.status(),
  }, () => settings.current, (name) => {
    if (!opts.readConfig) return;
    const fresh = opts.readConfig().plugins.settings;
    settings.current = { ...settings.current };
    if (fresh[name]) settings.current[name] = fresh[name]!;
    else delete settings.current[name];
    if (name === "authz") security.reload(settings.current.authz);
  });
  for (const mod of builtinPlugins()) plugins.registerBuiltin(mod);
  if (config.plugins.dir) {
    const dir = resolve(config.plugins.dir);
    await plugins.loadExternal(dir);
    if (config.plugins.watch) plugins.watchExternal(dir);
  }
  return { plugins, settings };
}

interface LeaderServices {
  nodeMonitor: NodeMonitor;
  membership: Membership;
  scheduling: SchedulingLoop;
  sessionTimers: SessionTimers;
  gc: GcLoop;
}

/** What a leader-role node runs beside Raft (not started yet). */
function leaderServices(config: Config, o: { raft: RaftReplicator; state: StateReader; log: Logger; bus: EventBus }): LeaderServices {
  const { raft, state, log, bus } = o;
  const nodeMonitor = new NodeMonitor({ replicator: raft, state, log, ...nodeMonitorSettings(config.leader) });
  const membership = new Membership({ replicator: raft, state, log, bus, nodeTtlMs: config.leader.nodeTtlMs, failoverTtlMs: config.leader.failoverHeartbeatTtlMs, maxHeartbeatsPerSecond: config.leader.maxHeartbeatsPerSecond, monitor: nodeMonitor,
    admission: new JoinAdmission(config.leader.maxJoinsInFlight) });
  // Jobs are scheduled by the active Raft leader only (see core/cluster/scheduling/loop.ts).
  const scheduling = new SchedulingLoop({ state, propose: (c) => raft.propose(c), isLeader: () => raft.status().isLeader, bus, log: log.child({ component: "scheduler" }), preemption: config.leader.schedulerPreemption, jobTrackedVersions: config.leader.jobTrackedVersions });
  // Session TTLs run on the active Raft leader only (core/cluster/session-timers.ts).
  const sessionTimers = new SessionTimers({
    listSessions: () => state.sessions.list(), getSession: (id) => state.sessions.get(id),
    propose: (c) => raft.propose(c), isLeader: () => raft.status().isLeader, log: log.child({ component: "sessions" }),
  });
  // Garbage collection of terminal jobs, evaluations, allocations, deployments: proposed by the active leader (core/cluster/gc).
  const gc = new GcLoop({ state, propose: (c) => raft.propose(c), isLeader: () => raft.status().isLeader, log: log.child({ component: "gc" }), config: config.leader.gc });
  return { nodeMonitor, membership, scheduling, sessionTimers, gc };
}

/** Core's own API routes (core/api), their fast paths declared with them. */
function registerCoreRoutes(config: Config, deps: CoreApiDeps, o: {
  secret: string; store?: Store; raft?: RaftReplicator; leader?: LeaderServices; metrics: Registry; leaderClient?: HttpLeaderTransport;
  nodeMeta?: { store: NodeMetaStore; reregister: () => Promise<void> };
}) {
  const { raft, store } = o;
  statusRoutes(deps);
  nodeRoutes(deps);
  summaryRoutes(deps);
  nodeMetaRoutes(deps, { local: o.nodeMeta });
  pluginRoutes(deps);
  clusterRoutes(deps, {
    heartbeats: deps.membership && new Counter({ name: "corral_cluster_heartbeats_total", help: "Agent heartbeats answered by this leader", registers: [o.metrics] }),
  });
  aclRpcRoutes(deps);
  intentionRpcRoutes(deps);
  aclFactRoutes(deps);
  routeListRoutes(deps);
  systemGcRoutes(deps, o.leader?.gc);
  // One lock writer for the KV route and its fast path: one AcquireQueue per node (core/api/kv-lock-write.ts).
  kvRoutes(deps, lockWriter(deps));
  sessionRoutes(deps, {
    ttlMinMs: config.leader.sessionTtlMinMs, timers: o.leader?.sessionTimers,
    confirmLeader: raft ? () => raft.readBarrier().catch(toApiError) : undefined,
  });
  txnRoutes(deps);
  jobRoutes(deps, o.leader?.scheduling);
  allocationRoutes(deps);
  const keyring = variableRoutes(deps, { db: store?.db, clusterSecret: o.secret });
  // The mesh CA (docs/mesh.md): kept by leader-role nodes in the keyring-encrypted state; agents ask a leader.
  const ca = keyring && store ? new ConnectCa(store.db, keyring, deps.propose, { external: loadExternalCa(config.connect) }) : undefined;
  const signer = ca ?? (o.leaderClient ? remoteSigner((op, body) => o.leaderClient!.connectCa(op, body)) : undefined);
  if (signer) {
    const access = meshCaAccess(signer);
    deps.host.meshCa = access;
    connectCaRoutes(deps, ca, access);
  }
  if (raft && store) raftRoutes(deps, raft, store);
  else raftRoutesOnAgent(deps);
}

/**
 * The HTTP server: browser guard, then the route table (routes' fast paths, then hono).
 * Throws the bind error people can act on.
 */
async function serveHttp(config: Config, o: {
  routes: RouteTable; guard: { current: Guard }; security: Security; verifier: RpcVerifier; raft?: RaftReplicator; metrics: Registry; log: Logger;
}): Promise<Server> {
  const { routes, guard, security } = o;
  // Outside the try below: an unreadable certificate is not a bind error.
  const tls = serverTls(config.tls);
  try {
    // The route table runs routes' fast paths before hono itself (core/http/fast-route.ts).
    // The peers' long-lived streams of Raft messages (raft.stream) are upgraded before it,
    // authenticated once by a signed handshake (core/cluster/raft/stream-server.ts).
    const { raft } = o;
    const streamFrames = raft && config.raft.stream
      ? new Counter({ name: "corral_raft_stream_frames_total", help: "Frames of Raft messages received on peer streams (raft.stream)", registers: [o.metrics] })
      : undefined;
    const streams = raft && streamFrames
      ? raftStreamServer({
        verifier: o.verifier, maxMessageBytes: config.raft.maxMessageBytes, step: (m) => raft.step(m), log: o.log,
        auditRefusal: (req, env, status) => security.auditEarlyRefusal(req, env, status),
        onFrame: () => streamFrames.inc(),
      })
      : undefined;
    // A shared answer offering gzip leaves compressed for a client that asks, if no one rewrote it after its handler (core/http/gzip-answer.ts).
    const encoded = gzipOffers(routes.fetch);
    const inner = streams ? (req: Request, env?: unknown) => streams.handshake(req, env) ?? encoded(req, env) : encoded;
    // Host allow-list and cross-site refusal before anything else, fast paths included (core/http/browser-guard.ts).
    // Its refusals of writes are audited here: they never reach the audit middleware.
    const handler = (req: Request, env?: unknown): Response | Promise<Response> => {
      const refused = guard.current(req);
      if (refused === undefined) return inner(req, env);
      const audited = (r: Response) => {
        security.auditEarlyRefusal(req, env, r.status);
        return r;
      };
      if (refused instanceof Response) return audited(refused);
      return refused.then((r) => (r ? audited(r) : inner(req, env)));
    };
    // Routes' own sockets (an `alloc exec` session) carry their handlers; the rest are Raft streams (core/http/websocket-upgrade.ts).
    return await serve(handler, { hostname: config.node.bind, port: config.node.httpPort, tls, websocket: dispatchingWebSocket(streams?.websocket) });
  } catch (err) {
    throw bindError(err, {
      listener: "http", address: config.node.bind, port: config.node.httpPort,
      portHint: "set node.http_port (or --http-port, --ports, CORRAL_NODE_HTTP_PORT) to a free port", bindHint: "check node.bind",
    });
  }
}

/** Core's API dependencies: the parts the core routes (core/api) read. */
function coreApiDeps(config: Config, o: {
  routes: RouteTable; plugins: PluginHost; host: HostInfo; id: NodeIdentity; state: StateReader; raft?: RaftReplicator; membership?: Membership;
  propose: Propose; forwardToLeaders?: (req: Request) => Promise<Response>; peer: PeerHttp;
  agentJoined: () => boolean; failure: () => string | undefined;
}): CoreApiDeps {
  const { raft, forwardToLeaders, id } = o;
  const replicator: Replicator | undefined = raft;
  return {
    routes: o.routes, plugins: o.plugins, host: o.host, version: VERSION, runtime: currentRuntime(),
    advertise: id.advertiseHost, port: config.node.httpPort, startedAt: Date.now(),
    state: o.state, replicator, membership: o.membership,
    leaderAddress: () => (replicator ? replicator.status().leader : config.agent.leaders[0]),
    peers: () => (raft ? raft.raftStatus().voters.map((v) => (v === DEV_RAFT_ID ? id.selfAddress : v)) : config.agent.leaders),
    agentJoined: o.agentJoined,
    propose: o.propose,
    // Core routes pass only clients' requests on: reads are marked so the leader cuts them to the client's token.
    forward: forwardToLeaders ? (req) => forwardToLeaders(asClientRead(req)) : undefined,
    peerHttp: o.peer,
    key: id.key,
    failure: o.failure,
    sessionTtlMinMs: config.leader.sessionTtlMinMs,
    jobTrackedVersions: config.leader.jobTrackedVersions,
  };
}

/** What a running node can be asked: take a new config (SIGHUP), and stop in the reverse order of its start. */
function nodeLifecycle(config: Config, o: {
  log: Logger; settings: PluginSettings; security: Security; guard: { current: Guard }; own: OwnAddresses; verifier: RpcVerifier;
  plugins: PluginHost; legacyWarning: () => void; agent: () => AgentMember | undefined; leader?: LeaderServices;
  monitoring: { close(): void }; server: Server; replicator?: Replicator; store?: Store; lock: DataDirLock;
}): Pick<RunningNode, "reload" | "shutdown"> {
  const { log, settings, security, guard, plugins, leader } = o;
  let stopping: Promise<void> | undefined;
  /** The configuration in effect (what a reload compares against). */
  let running: Config = config;
  return {
    async reload(next: Config) {
      // Keys read only at start are kept as they are, and said so: a silent no-op looks like a bug.
      const needRestart = restartOnlyChanges(running, next);
      for (const key of needRestart) log.warn(`${key} changed: restart to apply`, { key });
      settings.current = next.plugins.settings;
      security.reload(settings.current.authz);
      guard.current = o.own.guardFor(next, o.verifier, log);
      await plugins.useExternalDir(next.plugins.dir ? resolve(next.plugins.dir) : "", next.plugins.watch);
      await plugins.reconcile(new Set(next.plugins.enabled), true);
      running = { ...next, node: running.node, cluster: running.cluster, leader: running.leader, raft: running.raft, agent: running.agent, tls: running.tls, role: running.role, http: { ...running.http, allowedHosts: next.http.allowedHosts, allowedOrigins: next.http.allowedOrigins, maxBodyBytes: next.http.maxBodyBytes } };
      log.info("configuration reloaded", { file: next.file, ...(needRestart.length ? { restartToApply: needRestart } : {}) });
    },
    shutdown() {
      stopping ??= (async () => {
        o.legacyWarning();
        o.agent()?.stop();
        leader?.membership.stop();
        leader?.scheduling.stop();
        leader?.sessionTimers.stop();
        leader?.gc.stop();
        // Event streams never end by themselves: close them so the server can stop.
        o.monitoring.close();
        await o.server.stop();
        await plugins.stopAll();
        // The last audit records, while the log still takes writes (bounded: a lost leader must not hang shutdown).
        await Promise.race([security.close(), new Promise((r) => setTimeout(r, 2_000))]);
        await o.replicator?.close();
        o.store?.close();
        o.lock.release();
        log.info("corral stopped");
      })();
      return stopping;
    },
  };
}

/** Raft, membership, scheduling and session timers started, and told of leadership changes. */
function startLeaderRole(raft: RaftReplicator, leader: LeaderServices, bus: EventBus): void {
  const { membership, scheduling, sessionTimers } = leader;
  raft.start();
  membership.start();
  raft.onLeadershipChange((isLeader) => isLeader && membership.becameLeader());
  raft.onLeadershipChange((isLeader) => scheduling.leadershipChanged(isLeader));
  raft.onLeadershipChange((isLeader) => sessionTimers.leadershipChanged(isLeader));
  bus.subscribe("applied", (e) => sessionTimers.applied(e as AppliedEntry));
  sessionTimers.leadershipChanged(raft.status().isLeader);
  scheduling.start();
  leader.gc.start();
}

/** The agent side: fingerprints this host, registers with the leader and heartbeats. */
function startAgentRole(config: Config, o: {
  id: NodeIdentity; dataDir: string; log: Logger; bus: EventBus; settings: PluginSettings; nodeMeta?: NodeMetaStore;
  /** The port the server listens on (what the agent registers, unless node.advertise names one). */
  port: number;
  transport: LocalLeaderTransport | HttpLeaderTransport;
  onRegistered: (r: JoinRequest) => void;
}): AgentMember {
  const { id, dataDir, log, bus, nodeMeta } = o;
  const { nodeId, role, advertiseHost, selfAddress, legacy } = id;
  let latest: LiveSample | undefined;
  bus.subscribe("probe.sample", (s) => (latest = s as LiveSample));
  const registration = async (): Promise<JoinRequest> => {
    const settings = o.settings.current;
    // The host's fingerprint (probe) and what the task driver can run here
    // (exec), each plugin's registrationFacts hook, then the node's own.
    const fp = await collectRegistrationFacts(builtinPlugins(), settings, dataDir, log);
    Object.assign(fp.attributes, hostVolumeAttributes(config.node.hostVolumes));
    return {
      id: nodeId, name: config.node.name, address: id.advertisedPort !== undefined ? selfAddress : `${advertiseHost}:${o.port}`,
      datacenter: config.node.datacenter, role: role === "dev" ? "dev" : "agent",
      attributes: fp.attributes,
      resources: fp.resources,
      reserved: fp.reserved,
      meta: nodeMeta?.effective() ?? {},
    };
  };
  const register = async () => {
    const r = await registration();
    o.onRegistered(r);
    return r;
  };
  const agent = new AgentMember({
    transport: o.transport, registration: register, latestSample: () => latest, heartbeatMs: config.agent.heartbeatMs, log, legacy,
    // Plugins that keep state on a leader (discovery's anti-entropy) resync after every (re)join.
    onJoined: () => bus.publish("agent.joined", { nodeId }),
  });
  agent.start();
  return agent;
}

/** Tasks and exec checks run as other users: a config file they can read hands them the cluster secret. */
function warnIfSecretReadable(config: Config, log: Logger): void {
  if (config.file && othersMayRead(config.file) && /^\s*secret\s*=/m.test(readFileSync(config.file, "utf8"))) {
    log.warn("the config file holds cluster.secret and other users may read it (task users included): chmod 600 it", { file: config.file });
  }
}

/** Replication refusals become API errors with their status (503 NOT_LEADER, 504 TIMEOUT...). */
function toApiError(err: unknown): never {
  if (err instanceof ReplicationError) {
    throw replicationApiError(err);
  }
  throw err;
}
