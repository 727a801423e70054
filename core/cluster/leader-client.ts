// The one signed client of a leader's cluster RPC (POST /v1/cluster/...),
// and the one reading of its failures. Agents use it through
// HttpLeaderTransport (core/cluster/transport.ts), which walks their list of
// leader addresses; a follower's replicator uses it to hand a write to the
// Raft leader it knows (leaderProposer). Every failure, whoever called,
// becomes an RpcError with a status, a code and the write's outcome; HTTP
// answers it in one place (proposeFailed, core/http/leader-forward.ts).
import { signRequest, SIGNATURE_HEADER, type NodeKey } from "../http/rpc-signature.ts";
import { authorityOf } from "../http/rpc-receiver.ts";
import { failedBeforeSending } from "../http/connect-error.ts";
import { OUTCOME_HEADER } from "../http/errors.ts";
import type { Command } from "../state/commands.ts";
import type { ProposeOutcome } from "../state/replicator.ts";
import { PLAIN_HTTP, type PeerHttp } from "../http/tls.ts";

/** A leader call that did not succeed: the leader's refusal, or an attempt that got no answer. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Whether a failed write may have been applied ("not-applied" | "unknown"), when known. */
    readonly outcome?: string,
    /** The transport error when no answer came (kept so failedBeforeSending can look through it). */
    cause?: unknown,
    /** The leader's Retry-After, in ms, when it said one (a join refused during a burst: 429). */
    readonly retryAfterMs?: number,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }

  /** True when no leader answered this attempt (a transport failure, not a refusal). */
  get unanswered(): boolean {
    return this.cause !== undefined;
  }
}

export function normalizeLeaderUrl(addr: string, scheme = "http"): string {
  const withScheme = /^https?:\/\//.test(addr) ? addr : `${scheme}://${addr}`;
  return withScheme.replace(/\/+$/, "");
}

export interface LeaderRpcOptions {
  /** The cluster secret and this node's id, which every request is signed with. */
  key: NodeKey;
  /** https and the cluster's CA when [tls] is set (core/http/tls.ts). */
  peer?: PeerHttp;
  timeoutMs: number;
}

/** One signed POST to one leader: its JSON answer, or an RpcError (attemptFailed / answerFailed). */
export async function callLeader<T>(o: LeaderRpcOptions, base: string, path: string, body: unknown): Promise<T> {
  const text = JSON.stringify(body);
  let res: Response;
  try {
    res = await (o.peer ?? PLAIN_HTTP).fetch(base + path, {
      method: "POST",
      headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest(o.key, "POST", path, text, { to: authorityOf(base) }) },
      body: text,
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    throw attemptFailed(base, err);
  }
  const data = (await res.json().catch(() => ({}))) as { code?: unknown; error?: unknown };
  if (!res.ok) throw answerFailed(base, res, data);
  return data as T;
}

/**
 * No answer came. Refused while connecting: nothing was sent, the write was
 * certainly not applied (503, retry at once). Anything later (a timeout, a
 * reset) may have reached the leader: outcome unknown (504).
 */
export function attemptFailed(leader: string, err: unknown): RpcError {
  const why = (err as Error)?.message ?? String(err);
  if (failedBeforeSending(err)) {
    return new RpcError(503, "NOT_LEADER", `leader ${leader} refused the connection (${why}); the write was not applied`, "not-applied", err);
  }
  return new RpcError(504, "TIMEOUT", `forwarding to leader ${leader} failed: ${why} (outcome unknown)`, "unknown", err ?? new Error("no answer"));
}

/**
 * The leader (or something in front of it) answered an error. Its own codes
 * and outcome keep their meaning (a coded 5xx without an outcome is a
 * refusal, a TIMEOUT excepted); an uncoded 503 is a refusal, any other
 * uncoded 5xx (502, 504 from a proxy) may hide a write that went through.
 */
export function answerFailed(leader: string, res: Response, data: { code?: unknown; error?: unknown }): RpcError {
  const message = typeof data.error === "string" ? data.error : `leader ${leader} answered ${res.status}`;
  const said = res.headers.get(OUTCOME_HEADER);
  const outcome = said === "unknown" || said === "not-applied" ? said : undefined;
  const retryAfterMs = retryAfter(res.headers.get("retry-after"));
  if (typeof data.code === "string") {
    const refusal = data.code === "TIMEOUT" ? "unknown" : "not-applied";
    return new RpcError(res.status, data.code, message, outcome ?? (res.status >= 500 ? refusal : undefined), undefined, retryAfterMs);
  }
  if (res.status < 500) return new RpcError(res.status, "HTTP_" + res.status, message, outcome, undefined, retryAfterMs);
  if (res.status === 503) return new RpcError(503, "NOT_LEADER", message, outcome ?? "not-applied");
  return new RpcError(504, "TIMEOUT", `${message} (outcome unknown)`, "unknown");
}

/** Retry-After in ms: whole seconds (what corral sends) or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** How a follower hands a write to the Raft leader it knows (core/cluster/raft/replicator.ts). */
export interface LeaderForwarder {
  propose(leader: string, cmd: Command): Promise<ProposeOutcome>;
}

/** A follower's forwarder: the leader's Raft id is its "host:port". */
export function leaderProposer(o: LeaderRpcOptions): LeaderForwarder {
  const scheme = o.peer?.scheme ?? "http";
  return { propose: (leader, cmd) => callLeader<ProposeOutcome>(o, normalizeLeaderUrl(leader, scheme), "/v1/cluster/propose", cmd) };
}
