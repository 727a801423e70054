// A follower hands a write to the leader: POST /v1/cluster/propose on the
// leader's address, signed with the cluster secret. The answer is the
// leader's { index, result }; an error answer keeps its code.
import { signRequest, SIGNATURE_HEADER, type NodeKey } from "../../http/rpc-signature.ts";
import type { Command } from "../../state/commands.ts";
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
      res = await this.fetchFn(`${this.scheme}://${leader}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest(this.key, "POST", path, body) },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ReplicationError("TIMEOUT", `forwarding to leader ${leader} failed: ${(err as Error).message} (outcome unknown)`, leader);
    }
    const data = (await res.json().catch(() => ({}))) as { index?: number; result?: unknown; code?: string; error?: string };
    if (!res.ok) {
      const known = ["NOT_LEADER", "TIMEOUT", "SHUTTING_DOWN", "INVALID_COMMAND"] as const;
      const code = known.find((k) => k === data.code) ?? (res.status < 500 ? "INVALID_COMMAND" : "NOT_LEADER");
      throw new ReplicationError(code, data.error ?? `leader ${leader} answered ${res.status}`, leader);
    }
    return data as ProposeOutcome;
  }
}
