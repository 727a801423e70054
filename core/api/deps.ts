// What the core routes need from the node. Built by core/node.ts.
import type { RouteTable } from "../http/routes.ts";
import type { PluginHost } from "../plugins/host.ts";
import type { HostInfo } from "../plugins/types.ts";
import type { StateReader } from "../state/reader.ts";
import type { Replicator } from "../state/replicator.ts";
import type { Membership } from "../cluster/membership.ts";
import type { Command } from "../state/commands.ts";
import type { ProposeOutcome } from "../state/replicator.ts";

export interface CoreApiDeps {
  routes: RouteTable;
  plugins: PluginHost;
  host: HostInfo;
  version: string;
  runtime: string;
  advertise: string;
  port: number;
  startedAt: number;
  state: StateReader;
  replicator?: Replicator;
  membership?: Membership;
  leaderAddress: () => string | undefined;
  peers: () => string[];
  agentJoined?: () => boolean;
  /** Replicated write; throws ApiError (503 NOT_A_LEADER_ROLE, NOT_LEADER...) when it cannot. */
  propose: (cmd: Command) => Promise<ProposeOutcome>;
  /** On agents: hand a client's request to a leader and return its answer. */
  forward?: (req: Request) => Promise<Response>;
  /** How this node calls its peers: http or https with the cluster's CA ([tls], core/http/tls.ts). */
  peerHttp?: import("../http/tls.ts").PeerHttp;
  /**
   * This node's signing key: a follower passing an agent's join or heartbeat
   * on to the leader signs it anew, for the leader (a signature names its
   * receiver, core/http/rpc-receiver.ts; the agent's named this follower).
   */
  key?: import("../http/rpc-signature.ts").NodeKey;
  /** Set once the node can no longer serve its role (state database failure): /v1/healthz answers 503 with it. */
  failure?: () => string | undefined;
  /** leader.session_ttl_min (ms): /v1/agent/self reports it as Consul's SessionTTLMin. */
  sessionTtlMinMs?: number;
  /** leader.job_tracked_versions: written into RegisterJob entries (versions kept per job). */
  jobTrackedVersions?: number;
}
