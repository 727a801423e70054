// The contract between corral and a plugin (built-in or external).
//
// A plugin receives a narrow capability object (PluginContext) and never the
// hono app, the database handle or another plugin. Everything it registers
// through the context is tracked by the host so that disable and reload can
// release all of it: routes disappear, timers stop, sockets close,
// subscriptions end.
import type { z } from "zod";
import type { RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Logger } from "../log.ts";
import type { Command, CommandResult } from "../state/commands.ts";
import type { StateReader } from "../state/reader.ts";
import type { MetricsRegistry } from "./metrics.ts";
import type { ReplicationStatus } from "../state/replicator.ts";
import type { RoutePermission } from "../acl/types.ts";
import type { JoinRequest } from "../cluster/protocol.ts";

export interface PluginHandle {
  /** Release whatever the plugin holds that the host does not track itself. */
  stop(): void | Promise<void>;
}

export interface PluginModule<C = unknown> {
  name: string;
  version: string;
  description?: string;
  /** Names of plugins that must be enabled before this one (checked on enable). */
  dependencies?: string[];
  /** Validates `[plugins.<name>]`; defaults fill missing keys. */
  configSchema: z.ZodType<C>;
  setup(ctx: PluginContext<C>): PluginHandle | Promise<PluginHandle>;
  /**
   * What this plugin adds to the node's registration with the leaders (what
   * placement matches on): called on agent and dev nodes at every
   * (re)registration, whether the plugin is enabled or not, since the facts
   * describe the host (the probe table's overrides apply with the probe
   * plugin off). Collected by core/plugins/registration-facts.ts; this is
   * how core learns of a plugin's node facts without importing the plugin.
   */
  registrationFacts?(input: RegistrationInput): RegistrationFacts | Promise<RegistrationFacts>;
  /**
   * Where the plugin listens with this config, one line each (e.g. `dns
   * 127.0.0.1:8600 (udp+tcp)`): `corral config check` lists them after the
   * node's own HTTP listener, for the plugins the config enables.
   */
  listeners?(config: C): string[];
}

export interface RegistrationInput {
  /** The plugin's raw `[plugins.<name>]` table: validate it here (the config loader reports an invalid one). */
  table: Record<string, unknown> | undefined;
  dataDir: string;
  log: Logger;
}

/** A plugin's part of the node's registration; attributes of later plugins win on a clash. */
export interface RegistrationFacts {
  attributes?: Record<string, string>;
  resources?: JoinRequest["resources"];
  reserved?: JoinRequest["reserved"];
}

/** A handler gets the hono context; whatever it throws is mapped by the core error handler. */
export type RouteHandler = (c: Context<any, any, any>) => Response | Promise<Response>;

export interface TimerHandle {
  cancel(): void;
}

/** Something closeable the plugin opened itself (a UDP socket, a listener). */
export interface Closeable {
  close(): void | Promise<void>;
}

/** A command the cluster applied: its log index and what it returned (core/raft/types.ts ProposeResult is the raft-level answer). */
export type AppliedProposal = { index: number; result: CommandResult };

export interface EventSubscription {
  unsubscribe(): void;
}

/** Live information about this node that plugins may read or publish. */
export interface HostInfo {
  nodeId: string;
  nodeName: string;
  role: "dev" | "leader" | "agent";
  dataDir: string;
  datacenter: string;
  /** Host (no port) other nodes use to reach this one. */
  advertise?: string;
  /** This node's own HTTP API ("http://host:port"), set once it listens: for plugins that use another plugin's API (exec registers job services through discovery's agent API). */
  apiUrl?: string;
  /**
   * A per-process token this node accepts as its own (full rights, this
   * node only, never stored): for plugins calling the node's own API with
   * ACLs on. Send it as X-Consul-Token.
   */
  localToken?: string;
  /**
   * The node as it last registered with the leaders (attributes, meta after
   * `corral node meta apply`): what task interpolation reads. Undefined on a
   * leader-only node, or before the first registration.
   */
  nodeFacts?: () => import("../scheduler/interpolate.ts").NodeFacts | undefined;
  /** A task's workload identity token (core/variables/workload-identity.ts): read its job's variables, discover services. */
  mintWorkloadToken?: (allocId: string, task: string) => string;
  /** The service mesh's CA (core/connect, docs/mesh.md): its roots, and leaves for a service made on this node. */
  meshCa?: import("../connect/access.ts").MeshCaAccess;
}

export interface RouteOptions {
  /** Answers from replicated state: the same as `leader: "read"` (an agent forwards, a follower serves it from the leader unless ?stale). */
  stateRead?: boolean;
  /**
   * How the route reaches the leader (core/http/leader-routing.ts): "read"
   * (replicated state: an agent forwards, a follower applies the consistency
   * modes), "forward" (an agent forwards) or "local". Routes that write state
   * must declare it.
   */
  leader?: import("../http/leader-routing.ts").LeaderRouting;
  /** Rewrites the answer on the node that received the request, forwarded by an agent or not. */
  answer?: (c: import("hono").Context, res: Response) => Response | Promise<Response>;
  /**
   * What a caller needs when ACLs are on, e.g. `{ resource: "service",
   * access: "read", segment: (c) => c.req.param("name") }`. Omitted: the
   * core's table (core/acl/route-permissions.ts) decides, and a route in
   * neither needs operator:write. See docs/acl.md.
   */
  permission?: RoutePermission;
  /**
   * A fast path for the route's hottest requests, run before hono
   * (core/http/fast-route.ts; e.g. cachedReadFast): taken only while it can
   * give exactly the route's answer.
   */
  fast?: import("../http/fast-route.ts").FastRoute<any>;
}

export interface PluginContext<C = unknown> {
  name: string;
  config: C;
  log: Logger;
  host: HostInfo;
  /**
   * Mount a route. `route` is a @hono/zod-openapi RouteConfig with an
   * absolute path. `leader: "read"` (or `stateRead: true`) for routes that
   * answer from replicated state: an agent hands them to a leader, and on a
   * follower they are served by the leader unless ?stale.
   */
  route(route: RouteConfig, handler: RouteHandler, opts?: RouteOptions): void;
  /** Repeating timer; an exception inside marks the plugin failed. */
  every(intervalMs: number, fn: () => void | Promise<void>): TimerHandle;
  /** One-shot timer. */
  after(delayMs: number, fn: () => void | Promise<void>): TimerHandle;
  /** Register something to close on stop (sockets, listeners, child processes). */
  own<T extends Closeable>(resource: T): T;
  /** Read-only view of replicated state. */
  state: StateReader;
  /** Replicated change: goes through the command log; resolves once applied. */
  propose(command: Command): Promise<AppliedProposal>;
  /** Subscribe to a local event bus topic (e.g. "applied", "probe.sample", "node.sample", "plugin.state"). */
  subscribe(topic: string, fn: (payload: unknown) => void): EventSubscription;
  /** Publish on the local event bus (ephemeral, not replicated). */
  publish(topic: string, payload: unknown): void;
  metrics: MetricsRegistry;
  /** Report an asynchronous failure: the plugin is marked failed and released. */
  fail(error: unknown): void;
  /**
   * Agents only (they hold no replicated state): hand a client's request to
   * a leader as is and return its answer. Undefined on leader-role nodes.
   */
  forward?: (req: Request) => Promise<Response>;
  /**
   * Hand a client's request as is to another node's API at `address`
   * ("host:port", as nodes advertise it), over the cluster's scheme and TLS
   * trust (https and ca_file when [tls] is set, core/http/tls.ts). Not
   * signed: the other node authorizes the client's own token again.
   */
  forwardTo?: (address: string, req: Request) => Promise<Response>;
  /**
   * Open a WebSocket to another node's API at `address` ("host:port"),
   * `pathAndQuery` as given, over the cluster's scheme and TLS trust, the
   * handshake signed with the cluster secret (core/http/rpc-signature.ts):
   * the other node takes it as authorized by this one (an `alloc exec`
   * session relayed to the node running the allocation). Undefined where the
   * runtime has no WebSocket client or the node no cluster secret.
   */
  peerWebSocket?: (address: string, pathAndQuery: string, headers?: Record<string, string>) => WebSocket;
  /** Leadership as this node sees it (X-Consul-KnownLeader, LastContact); undefined on agents. */
  replication?: () => ReplicationStatus | undefined;
}
