// A follower hands a write to the leader: POST /v1/cluster/propose on the
// leader's address, signed with the cluster secret. The answer is the
// leader's { index, result }; an error answer keeps its code.
import { signRequest, SIGNATURE_HEADER, type NodeKey } from "../../http/rpc-signature.ts";
import { authorityOf } from "../../http/rpc-receiver.ts";
import type { Command } from "../../state/commands.ts";
import { failedBeforeSending } from "../../http/connect-error.ts";
import { OUTCOME_HEADER } from "../../http/errors.ts";
import { ReplicationError, type ProposeOutcome } from "../../state/replicator.ts";

export interface LeaderForwarder {
  propose(leader: string, cmd: Command): Promise<ProposeOutcome>;
}

export class HttpLeaderForwarder implements LeaderForwarder {
  constructor(
    private key: NodeKey,
    private timeoutMs = 15_000,
    private scheme = "http",
    private fetchFn: (url: string, init?: RequestInit) => Promise<Response> = fetch,
  ) {}

  async propose(leader: string, cmd: Command): Promise<ProposeOutcome> {
    const path = "/v1/cluster/propose";
    const body = JSON.stringify(cmd);
    let res: Response;
    try {
      const url = `${this.scheme}://${leader}${path}`;
      res = await this.fetchFn(url, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest(this.key, "POST", path, body, { to: authorityOf(url) }) },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw forwardFailed(leader, err);
    }
    const data = (await res.json().catch(() => ({}))) as { index?: number; result?: unknown; code?: string; error?: string };
    if (!res.ok) throw leaderRefused(leader, res, data);
    return data as ProposeOutcome;
  }
}

/**
 * The forward itself failed. Refused while connecting: nothing was sent, the
 * write was certainly not applied (503, retry at once). Anything later (a
 * timeout, a reset) may have reached the leader: outcome unknown (504).
 */
function forwardFailed(leader: string, err: unknown): ReplicationError {
  const why = (err as Error)?.message ?? String(err);
  if (failedBeforeSending(err)) {
    return new ReplicationError("NOT_LEADER", `leader ${leader} refused the connection (${why}); the write was not applied`, leader, "not-applied");
  }
  return new ReplicationError("TIMEOUT", `forwarding to leader ${leader} failed: ${why} (outcome unknown)`, leader, "unknown");
}

/**
 * The leader (or something in front of it) answered an error. Its own codes
 * keep their meaning; an uncoded 503 is a refusal, any other uncoded 5xx
 * (502, 504 from a proxy) may hide a write that went through.
 */
function leaderRefused(leader: string, res: Response, data: { code?: string; error?: string }): ReplicationError {
  const known = ["NOT_LEADER", "TIMEOUT", "SHUTTING_DOWN", "INVALID_COMMAND"] as const;
  const message = data.error ?? `leader ${leader} answered ${res.status}`;
  const code = known.find((k) => k === data.code);
  const outcome = res.headers.get(OUTCOME_HEADER);
  if (code) return new ReplicationError(code, message, leader, outcome === "unknown" || outcome === "not-applied" ? outcome : undefined);
  if (res.status < 500) return new ReplicationError("INVALID_COMMAND", message, leader);
  if (res.status === 503) return new ReplicationError("NOT_LEADER", message, leader);
  return new ReplicationError("TIMEOUT", `${message} (outcome unknown)`, leader);
}
