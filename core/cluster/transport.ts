// How an agent reaches the leaders. HttpLeaderTransport signs each request
// with the cluster secret and sticks to the leader that last answered,
// moving to the next on connection errors. LocalLeaderTransport is the
// in-process shortcut a dev node uses.
import { signRequest, SIGNATURE_HEADER, type NodeKey } from "../http/rpc-signature.ts";
import { authorityOf } from "../http/rpc-receiver.ts";
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

/** An RPC answer that was not 2xx. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The leader's X-Corral-Outcome for a failed write ("not-applied" | "unknown"), when it said. */
    readonly outcome?: string,
  ) {
    super(message);
  }
}

export function normalizeLeaderUrl(addr: string, scheme = "http"): string {
  const withScheme = /^https?:\/\//.test(addr) ? addr : `${scheme}://${addr}`;
  return withScheme.replace(/\/+$/, "");
}

export class HttpLeaderTransport implements LeaderClient {
  private current = 0;
  private readonly urls: string[];

  constructor(
    leaders: string[],
    /** The cluster secret and this node's id, which every request is signed with. */
    private key: NodeKey,
    private timeoutMs = 5_000,
    /** https and the cluster's CA when [tls] is set (core/http/tls.ts). */
    private peer: PeerHttp = PLAIN_HTTP,
  ) {
    this.urls = leaders.map((l) => normalizeLeaderUrl(l, peer.scheme));
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
    return this.call("/v1/cluster/propose", cmd);
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
          if (write) throw new RpcError(504, "TIMEOUT", `forwarding to ${base} failed: ${(err as Error)?.message ?? err} (outcome unknown)`, "unknown");
          mayHaveArrived = true;
        }
        lastErr = err;
      }
      this.current = (this.current + 1) % this.urls.length;
    }
    throw new RpcError(503, "NO_LEADER", `no leader reachable (${(lastErr as Error)?.message ?? "unknown error"})`, mayHaveArrived ? "unknown" : "not-applied");
  }

  private async call<T>(path: string, body: unknown): Promise<T> {
    const text = JSON.stringify(body);
    let lastErr: unknown;
    // Whether some attempt may have reached a leader (not refused while connecting, no 503):
    // then a failure must not read as "certainly not applied" (core/http/connect-error.ts).
    let mayHaveArrived = false;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const base = this.urls[this.current]!;
      try {
        const res = await this.peer.fetch(base + path, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            [SIGNATURE_HEADER]: signRequest(this.key, "POST", path, text, { to: authorityOf(base) }),
          },
          body: text,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const data = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
        if (!res.ok) throw new RpcError(res.status, data.code ?? "HTTP_" + res.status, data.error ?? res.statusText, res.headers.get(OUTCOME_HEADER) ?? undefined);
        return data as T;
      } catch (err) {
        // An answer from a leader (4xx) is final; a transport failure or a
        // leader that cannot serve (503) moves on to the next address.
        if (err instanceof RpcError && err.status < 500) throw err;
        if (!failedBeforeSending(err) && !(err instanceof RpcError && err.outcome === "not-applied")) mayHaveArrived = true;
        lastErr = err;
        this.current = (this.current + 1) % this.urls.length;
      }
    }
    if (mayHaveArrived) {
      // The last answer alone would understate it: an earlier attempt may have been applied.
      if (lastErr instanceof RpcError) throw new RpcError(lastErr.status, lastErr.code, lastErr.message, "unknown");
      throw new Error(`${(lastErr as Error)?.message ?? "request failed"} (an earlier attempt may have arrived)`);
    }
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
