// How an agent reaches the leaders. HttpLeaderTransport signs each request
// with the cluster secret and sticks to the leader that last answered,
// moving to the next on connection errors. LocalLeaderTransport is the
// in-process shortcut a dev node uses.
import { signRequest, SIGNATURE_HEADER } from "../http/middleware/cluster-auth.ts";
import type { Membership } from "./membership.ts";
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse } from "./protocol.ts";

export interface LeaderTransport {
  join(req: JoinRequest): Promise<JoinResponse>;
  heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse>;
  describe(): string;
}

/** An RPC answer that was not 2xx. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function normalizeLeaderUrl(addr: string): string {
  const withScheme = /^https?:\/\//.test(addr) ? addr : `http://${addr}`;
  return withScheme.replace(/\/+$/, "");
}

export class HttpLeaderTransport implements LeaderTransport {
  private current = 0;
  private readonly urls: string[];

  constructor(
    leaders: string[],
    private secret: string,
    private timeoutMs = 5_000,
  ) {
    this.urls = leaders.map(normalizeLeaderUrl);
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

  private async call<T>(path: string, body: unknown): Promise<T> {
    const text = JSON.stringify(body);
    let lastErr: unknown;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const base = this.urls[this.current]!;
      try {
        const res = await fetch(base + path, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            [SIGNATURE_HEADER]: signRequest(this.secret, "POST", path, text),
          },
          body: text,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const data = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
        if (!res.ok) throw new RpcError(res.status, data.code ?? "HTTP_" + res.status, data.error ?? res.statusText);
        return data as T;
      } catch (err) {
        // An answer from a leader (4xx) is final; a transport failure or a
        // leader that cannot serve (503) moves on to the next address.
        if (err instanceof RpcError && err.status < 500) throw err;
        lastErr = err;
        this.current = (this.current + 1) % this.urls.length;
      }
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
