// How callers change cluster state: propose(command) resolves once the
// command is committed and applied, with its log index and the applier's
// result. The Raft driver (core/cluster/raft/replicator.ts) implements it;
// callers never know whether one node or five ordered their command.
import type { Command, CommandResult } from "./commands.ts";

export interface ProposeOutcome {
  index: number;
  result: CommandResult;
}

export interface ReplicationStatus {
  /** This node leads (accepts proposals) right now. */
  isLeader: boolean;
  /** Address ("host:port") of the active leader, when known. */
  leader: string | undefined;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  /** Milliseconds since this node last heard from the leader (0 on the leader). */
  lastContactMs: number;
}

export interface Replicator {
  propose(command: Command): Promise<ProposeOutcome>;
  status(): ReplicationStatus;
  close(): Promise<void>;
}

/**
 * What a failed write did: "not-applied" when it certainly changed nothing
 * (refused, or it never reached the leader), "unknown" when it may have been
 * committed (a timeout, a connection lost after sending). Answered as the
 * X-Corral-Outcome header.
 */
export type WriteOutcome = "not-applied" | "unknown";

/** A typed refusal that HTTP maps to a status (e.g. NOT_LEADER → 503 or a forward). */
export class ReplicationError extends Error {
  constructor(
    readonly code: "NOT_LEADER" | "SHUTTING_DOWN" | "TIMEOUT" | "INVALID_COMMAND" | "STORAGE_FAILED",
    message: string,
    readonly leader?: string,
    /** By default a TIMEOUT's outcome is unknown and every other refusal's is "not-applied". */
    readonly outcome: WriteOutcome = code === "TIMEOUT" ? "unknown" : "not-applied",
  ) {
    super(message);
  }
}
