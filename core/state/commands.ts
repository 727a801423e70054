// Every change of cluster state is one of these commands. They are appended
// to the log, ordered (by the single leader today, by Raft later) and applied
// in order by core/state/fsm.ts. A command carries everything its applier
// needs, including the time it was proposed, so that applying the same log
// on any node gives the same state (appliers never read clocks).
//
// Versioning: `v` is the command's schema version. An applier must keep
// accepting every version it ever shipped, because old log entries and
// snapshots outlive upgrades.
import { z } from "zod";

const resources = z.object({
  cpuMhz: z.number().nonnegative(),
  cores: z.number().int().nonnegative(),
  memoryBytes: z.number().nonnegative(),
  diskBytes: z.number().nonnegative(),
});

const reserved = z.object({ cpuMhz: z.number().nonnegative(), memoryBytes: z.number().nonnegative() });

export const RegisterNode = z.object({
  type: z.literal("RegisterNode"),
  v: z.literal(1),
  at: z.number(), // proposer's clock, ms since epoch
  node: z.object({
    id: z.string().min(1),
    name: z.string().min(1),
    address: z.string(),
    datacenter: z.string(),
    role: z.enum(["agent", "dev"]),
    attributes: z.record(z.string(), z.string()),
    resources,
    reserved,
    meta: z.record(z.string(), z.string()),
  }),
});

export const SetNodeStatus = z.object({
  type: z.literal("SetNodeStatus"),
  v: z.literal(1),
  at: z.number(),
  nodeId: z.string().min(1),
  status: z.enum(["ready", "down"]),
  reason: z.string().optional(),
});

export const DeregisterNode = z.object({
  type: z.literal("DeregisterNode"),
  v: z.literal(1),
  at: z.number(),
  nodeId: z.string().min(1),
});

/** A no-op some callers propose to learn the current index (and Raft uses on election). */
export const Noop = z.object({ type: z.literal("Noop"), v: z.literal(1), at: z.number() });

export const Command = z.discriminatedUnion("type", [RegisterNode, SetNodeStatus, DeregisterNode, Noop]);
export type Command = z.infer<typeof Command>;
export type CommandType = Command["type"];

/** What an applier returns: JSON-able data for the proposer, or a typed refusal. */
export type CommandResult =
  | { ok: true; value?: unknown }
  | { ok: false; code: string; message: string };

/** Encodes a command for the log. */
export function encodeCommand(cmd: Command): string {
  return JSON.stringify(cmd);
}

/** Decodes a log entry. Entries in our own log were validated when proposed, so this only parses. */
export function decodeCommand(data: string): Command {
  return JSON.parse(data) as Command;
}
