// How an agent reaches the leaders. HttpLeaderTransport signs each request
// with the cluster secret and sticks to the leader that last answered,
// moving to the next on connection errors. LocalLeaderTransport is the
// in-process shortcut a dev node uses.
import type { NodeKey } from "../http/rpc-signature.ts";
import { attemptFailed, callLeader, normalizeLeaderUrl, RpcError, type LeaderRpcOptions } from "./leader-client.ts";
import type { Membership } from "./membership.ts";
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse } from "./protocol.ts";
import type { Command } from "../state/commands.ts";
import type { ProposeOutcome } from "../state/replicator.ts";
import { proxyRequest } from "../http/proxy.ts";
import { failedBeforeSending } from "../http/connect-error.ts";
import { OUTCOME_HEADER } from "../http/errors.ts";
import type { TokenGrant } from "../acl/resolve.ts";
import { PLAIN_HTTP, type PeerHttp } from "../http/tls.ts";

export interface LeaderTransport {
  join(req: JoinRequest): Promise<JoinResponse>;
  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse>;
  describe(): string;
}

/** What an agent needs beyond membership: writes and reads served by a leader. */
export interface LeaderClient extends LeaderTransport {
  /** A replicated write, signed with the cluster secret (POST /v1/cluster/propose). */
  propose(cmd: Command): Promise<ProposeOutcome>;
  /** Sends a client's request on to a leader as is (method, path, query, headers, body) and returns its answer. */
  forward(req: Request): Promise<Response>;
}

export { RpcError, normalizeLeaderUrl } from "./leader-client.ts";

export class HttpLeaderTransport implements LeaderClient {
  private current = 0;
  private readonly urls: string[];
  private readonly rpc: LeaderRpcOptions;

  constructor(
    leaders: string[],
    /** The cluster secret and this node's id, which every request is signed with. */
    private key: NodeKey,
    private timeoutMs = 5_000,
    /** https and the cluster's CA when [tls] is set (core/http/tls.ts). */
    private peer: PeerHttp = PLAIN_HTTP,
  ) {
    this.urls = leaders.map((l) => normalizeLeaderUrl(l, peer.scheme));
    this.rpc = { key, peer, timeoutMs };
  }

  describe(): string {
    return this.urls[this.current] ?? "(none)";
  }

  join(req: JoinRequest): Promise<JoinResponse> {
    return this.call("/v1/cluster/join", req);
  }

  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call("/v1/cluster/heartbeat", req);
  }

  propose(cmd: Command): Promise<ProposeOutcome> {
    return this.call("/v1/cluster/propose", cmd, true);
  }

  /** Every intention, for call checks on this agent (core/acl/calls.ts). */
  async intentions(): Promise<{ source: string; destination: string; action: "allow" | "deny" }[]> {
    return (await this.call<{ intentions: { source: string; destination: string; action: "allow" | "deny" }[] }>("/v1/cluster/acl/intentions", {})).intentions;
  }

  /** A fact an ACL decision needs, read by a leader from its state (core/acl/facts.ts). */
  async aclFact(query: { kind: string; id: string }): Promise<unknown> {
    return (await this.call<{ value: unknown }>("/v1/cluster/acl/facts", query)).value;
  }

  /** The mesh CA on a leader-role node (core/connect, core/api/connect-ca.ts): its roots, or a leaf signed over a public key. */
  connectCa<T>(op: "roots" | "sign", body: unknown): Promise<T> {
    return this.call(`/v1/cluster/connect/${op}`, body);
  }

  /** What a token is, by its secret's SHA-256 (the agent's ACL cache, core/acl/resolve.ts). */
  async resolveToken(secretHash: string): Promise<TokenGrant | null> {
    return (await this.call<{ token: TokenGrant | null }>("/v1/cluster/acl/resolve", { secretHash })).token;
  }

  async forward(req: Request): Promise<Response> {
    const write = req.method !== "GET" && req.method !== "HEAD";
    const body = write ? await req.arrayBuffer() : undefined;
    let lastErr: unknown;
    // Reads go on to the next leader after any failure; writes only after one that delivered nothing.
    let mayHaveArrived = false;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const base = this.urls[this.current]!;
      try {
        // Signed: the leader knows this agent authorized the request (core/acl/node-signature.ts).
        const res = await proxyRequest(base, req, body, this.key, this.peer.fetch);
        if (res.status !== 503) return res;
        // A write whose outcome the leader calls unknown must not be sent again elsewhere.
        if (write && res.headers.get(OUTCOME_HEADER) === "unknown") return res;
        lastErr = new Error(`leader ${base} answered 503`);
      } catch (err) {
        if (req.signal.aborted) throw err;
        if (!failedBeforeSending(err)) {
          // It may have been applied: sending a write again could apply it twice (a
          // repeated CAS would then answer false for a write that took effect).
          if (write) this.current = (this.current + 1) % this.urls.length;
          if (write) throw attemptFailed(base, err);
          mayHaveArrived = true;
        }
        lastErr = err;
      }
      this.current = (this.current + 1) % this.urls.length;
    }
    throw new RpcError(503, "NO_LEADER", `no leader reachable (${(lastErr as Error)?.message ?? "unknown error"})`, mayHaveArrived ? "unknown" : "not-applied");
  }

  /**
   * A signed call (core/cluster/leader-client.ts) to the leader that last
   * answered, moving on to the next address when one cannot serve. A
   * leader's answer (4xx) is final. A write stops at the first attempt that
   * may have arrived: sending it again could apply it twice (a repeated CAS
   * would then answer false for a write that took effect).
   */
  private async call<T>(path: string, body: unknown, write = false): Promise<T> {
    let lastErr: RpcError | undefined;
    // Whether some attempt may have reached a leader: then a failure must not
    // read as "certainly not applied" (core/http/connect-error.ts).
    let mayHaveArrived = false;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const base = this.urls[this.current]!;
      try {
        return await callLeader<T>(this.rpc, base, path, body);
      } catch (err) {
        if (!(err instanceof RpcError) || err.status < 500) throw err;
        this.current = (this.current + 1) % this.urls.length;
        if (err.outcome !== "not-applied") {
          if (write) throw err;
          mayHaveArrived = true;
        }
        lastErr = err;
      }
    }
    if (!lastErr) throw new RpcError(503, "NO_LEADER", "no leader address configured (agent.leaders)", "not-applied");
    const why = lastErr.unanswered ? ((lastErr.cause as Error)?.message ?? String(lastErr.cause)) : lastErr.message;
    // The last answer alone would understate it: an earlier attempt may have been applied.
    if (mayHaveArrived) throw new RpcError(504, "TIMEOUT", `no leader reachable: ${why} (outcome unknown)`, "unknown");
    if (lastErr.unanswered) throw new RpcError(503, "NO_LEADER", `no leader reachable: ${why}; the write was not applied`, "not-applied", lastErr.cause);
    throw lastErr;
  }
}

export class LocalLeaderTransport implements LeaderTransport {
  constructor(private membership: Membership) {}
  describe(): string {
    return "(in-process)";
  }
  join(req: JoinRequest) {
    return this.membership.join(req);
  }
  heartbeat(req: HeartbeatRequest) {
    return this.membership.heartbeat(req);
  }
}
