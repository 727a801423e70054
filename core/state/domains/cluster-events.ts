// Facts about the cluster itself that belong in the log so that the event
// stream (/v1/events) can replay them, but that change no state table.
//
// LeaderElected: the Raft replicator proposes it right after this node wins
// an election (core/cluster/raft/replicator.ts). Raft's own election no-op
// carries no payload, so without this entry a client resuming from an index
// could not learn who led in between.
import { z } from "zod";
import type { CommandResult } from "../result.ts";

export const LeaderElected = z.object({
  type: z.literal("LeaderElected"),
  v: z.literal(1),
  at: z.number(),
  /** The new leader's advertised "host:port". */
  leader: z.string().min(1).max(300),
  term: z.number().int().nonnegative(),
});

export const clusterEventCommands = [LeaderElected] as const;

const applyNothing = (): CommandResult => ({ ok: true });

/** No tables: the entry exists for the event stream only. */
export const clusterEventAppliers = {
  LeaderElected: { tables: [], apply: applyNothing },
};
