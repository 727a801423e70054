// Every change of cluster state is one of these commands. They are appended
// to the log, ordered (by the single leader, or by Raft) and applied in order
// by core/state/fsm.ts. A command carries everything its applier needs,
// including the time it was proposed, so that applying the same log on any
// node gives the same state (appliers never read clocks).
//
// Each domain (nodes, kv, catalog, ...) declares its commands and appliers
// in core/state/domains/<domain>.ts; this file only gathers them.
//
// Versioning: `v` is the command's schema version. An applier must keep
// accepting every version it ever shipped, because old log entries and
// snapshots outlive upgrades.
import { z } from "zod";
import { nodeCommands } from "./domains/nodes.ts";
import { kvCommands } from "./domains/kv.ts";
import { kvTombstoneCommands } from "./domains/kv-tombstones.ts";
import { catalogTombstoneCommands } from "./domains/catalog-tombstones.ts";
import { variableTombstoneCommands } from "./domains/variable-tombstones.ts";
import { restoreCommands } from "./domains/restore.ts";
import { catalogCommands } from "./domains/catalog.ts";
import { clusterEventCommands } from "./domains/cluster-events.ts";
import { nodeHealthCommands } from "./domains/node-health.ts";
import { jobCommands } from "./domains/jobs-commands.ts";
import { aclCommands } from "./domains/acl.ts";
import { intentionCommands } from "./domains/intentions.ts";
import { auditCommands } from "./domains/audit.ts";
import { sessionCommands } from "./domains/sessions.ts";
import { txnCommands } from "./domains/txn.ts";
import { launchCommands } from "./domains/launches.ts";
import { deploymentCommands } from "./domains/deployments.ts";
import { allocStopCommands } from "./domains/alloc-stop.ts";
import { gcCommands } from "./domains/gc.ts";
import { variableCommands } from "./domains/variables.ts";

export type { CommandResult } from "./result.ts";

/** A no-op some callers propose to learn the current index (and Raft uses on election). */
export const Noop = z.object({ type: z.literal("Noop"), v: z.literal(1), at: z.number() });

export const Command = z.discriminatedUnion("type", [Noop, ...nodeCommands, ...kvCommands, ...kvTombstoneCommands, ...restoreCommands, ...catalogCommands, ...catalogTombstoneCommands, ...clusterEventCommands, ...nodeHealthCommands, ...jobCommands, ...aclCommands, ...intentionCommands, ...auditCommands, ...sessionCommands, ...txnCommands, ...launchCommands, ...deploymentCommands, ...allocStopCommands, ...variableCommands, ...variableTombstoneCommands, ...gcCommands]);
export type Command = z.infer<typeof Command>;
export type CommandType = Command["type"];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

/** Encodes a command for the log. */
export function encodeCommand(cmd: Command): string {
  return JSON.stringify(cmd);
}

/** Decodes a log entry. Entries in our own log were validated when proposed, so this only parses. */
export function decodeCommand(data: string): Command {
  return JSON.parse(data) as Command;
}
