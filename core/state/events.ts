// Cluster events as the event stream (/v1/events) shows them, derived from
// committed log entries by one pure function. Live delivery (an entry just
// applied) and replay (entries read back from the `log` table) both call
// eventsOf(index, command), so a resumed stream is the same sequence as a
// live one. That is also why an event depends on the command only and never
// on the applier's result: the log keeps commands, not results. An event
// therefore says "this change was committed at this index"; a refused or
// no-op command (a failed CAS, a status already set) still yields its event,
// and a consumer that needs the outcome re-reads the state at that index.
//
// The mapping is exhaustive over command types (a compile error when a
// domain adds a command without deciding its events).
import type { Command, CommandOf, CommandType } from "./commands.ts";
import { jobEventMappers } from "./domains/jobs-events.ts";
import { deploymentEventMappers } from "./domains/deployments.ts";
import { allocStopEventMappers } from "./domains/alloc-stop.ts";

export const TOPICS = ["node", "service", "check", "leader", "plugin", "job", "allocation", "kv"] as const;
export type Topic = (typeof TOPICS)[number];

export interface ClusterEvent {
  /** Log index of the entry that caused it; absent for node-local events (topic plugin). */
  index?: number;
  /**
   * "reset" is not a topic a client picks: it always passes the filter and
   * tells the client to re-read the state (a backup was restored, or the
   * entries it asked for were compacted away).
   */
  topic: Topic | "reset";
  /** What happened, e.g. "NodeRegistered", "KeyWritten". */
  type: string;
  /** ms since the epoch: the proposer's clock for log events, this node's for local ones. */
  at: number;
  payload: Record<string, unknown>;
}

type Mapped = Pick<ClusterEvent, "topic" | "type" | "payload">;
type Mapper<T extends CommandType> = (cmd: CommandOf<T>) => Mapped[];

const one = (topic: Mapped["topic"], type: string, payload: Record<string, unknown>): Mapped[] => [{ topic, type, payload }];

const MAPPERS: { [T in CommandType]: Mapper<T> } = {
  Noop: () => [],
  RegisterNode: (c) =>
    one("node", "NodeRegistered", {
      id: c.node.id, name: c.node.name, address: c.node.address, datacenter: c.node.datacenter, role: c.node.role, status: "ready",
    }),
  SetNodeStatus: (c) => one("node", "NodeStatusChanged", { id: c.nodeId, name: c.name, status: c.status, reason: c.reason }),
  DeregisterNode: (c) => one("node", "NodeDeregistered", { id: c.nodeId }),
  SetNodeHealth: (c) => one("node", "NodeHealthChanged", { id: c.nodeId, name: c.name, health: c.status, reason: c.reason }),
  // Keys and operations only: values can be large or secret, and a consumer re-reads what it needs.
  KVSet: (c) => one("kv", "KeyWritten", { key: c.key, operation: c.acquire ? "acquire" : c.release ? "release" : "set", flags: c.flags, cas: c.cas }),
  KVDelete: (c) => one("kv", "KeyDeleted", { key: c.key, operation: c.recurse ? "delete-tree" : "delete", cas: c.cas }),
  // Sessions and transactions: a lock-aware consumer watches the kv topic and re-reads (ids and keys only).
  SessionCreate: (c) => one("kv", "SessionCreated", { id: c.session.id, node: c.session.node, name: c.session.name }),
  SessionDestroy: (c) => one("kv", "SessionDestroyed", { id: c.id, reason: c.reason }),
  Txn: (c) => one("kv", "TxnApplied", { keys: c.ops.flatMap((o) => (o.kind === "kv" && o.verb !== "get" && o.verb !== "get-tree" && !o.verb.startsWith("check-") ? [o.key] : [])) }),
  // Variables: no events yet (a topic of their own would need its own ACL filter by path; docs/variables.md).
  VarKeyAdd: () => [],
  VarPut: () => [],
  VarDelete: () => [],
  // Garbage collection: no event (it deletes only what is long finished; a list re-read shows it).
  GarbageCollect: () => [],
  ReapTombstones: () => [],
  ReapCatalogTombstones: () => [],
  ReapVariableTombstones: () => [],
  RestoreState: () => one("reset", "StateRestored", { reason: "a snapshot was restored: re-read the state" }),
  LeaderElected: (c) => one("leader", "LeaderElected", { leader: c.leader, term: c.term }),
  RegisterService: (c) => [
    {
      topic: "service", type: "ServiceRegistered",
      payload: {
        nodeId: c.node.id, node: c.node.name, serviceId: c.service.id, name: c.service.name,
        address: c.service.address, port: c.service.port, tags: c.service.tags,
      },
    },
    ...c.checks.map((ch) => ({ topic: "check" as const, type: "CheckRegistered", payload: checkPayload(c.node, ch, c.service.name) })),
  ],
  DeregisterService: (c) => one("service", "ServiceDeregistered", { nodeId: c.nodeId, serviceId: c.serviceId }),
  RegisterCheck: (c) => one("check", "CheckRegistered", checkPayload(c.node, c.check)),
  DeregisterCheck: (c) => one("check", "CheckDeregistered", { nodeId: c.nodeId, checkId: c.checkId }),
  UpdateCheckStatus: (c) => one("check", "CheckStatusChanged", { nodeId: c.nodeId, checkId: c.checkId, status: c.status }),
  CatalogRegister: (c) => [
    ...(c.service
      ? [{
        topic: "service" as const, type: "ServiceRegistered",
        payload: { nodeId: c.node.id, node: c.node.name, serviceId: c.service.id, name: c.service.name, address: c.service.address, port: c.service.port, tags: c.service.tags },
      }]
      : []),
    ...c.checks.map((ch) => ({ topic: "check" as const, type: "CheckRegistered", payload: checkPayload(c.node, ch, c.service && ch.serviceId === c.service.id ? c.service.name : undefined) })),
  ],
  CatalogDeregister: (c) => c.checkId
    ? one("check", "CheckDeregistered", { nodeId: c.nodeId, checkId: c.checkId })
    : c.serviceId
      ? one("service", "ServiceDeregistered", { nodeId: c.nodeId, serviceId: c.serviceId })
      : one("node", "CatalogNodeDeregistered", { nodeId: c.nodeId }),
  // An agent's full set (anti-entropy) can hold thousands of rows: counts, not one event per row.
  SyncNodeServices: (c) => [
    { topic: "service", type: "ServicesSynced", payload: { nodeId: c.node.id, node: c.node.name, services: c.services.length } },
    { topic: "check", type: "ChecksSynced", payload: { nodeId: c.node.id, node: c.node.name, checks: c.checks.length } },
  ],
  ...jobEventMappers,
  ...deploymentEventMappers,
  ...allocStopEventMappers,
  // Authorization is not streamed (the event stream needs only event:read; tokens and policies need acl:read).
  ACLBootstrap: () => [], ACLTokenSet: () => [], ACLTokenDelete: () => [], ACLPolicySet: () => [], ACLPolicyDelete: () => [],
  IntentionSet: () => [], IntentionDelete: () => [], AuditAppend: () => [],
};

/** `serviceName` when the command says it: the event stream's ACL filter needs the name (core/acl/event-rules.ts). */
function checkPayload(node: { id: string; name: string }, ch: { id: string; name: string; status: string; serviceId: string }, serviceName?: string) {
  return { nodeId: node.id, node: node.name, checkId: ch.id, name: ch.name, status: ch.status, serviceId: ch.serviceId, serviceName };
}

/** The events one committed entry produces (none for a command type this version does not know). */
export function eventsOf(index: number, command: Command): ClusterEvent[] {
  const map = (MAPPERS as Record<string, Mapper<CommandType> | undefined>)[command.type];
  if (!map) return [];
  return map(command as never).map((e) => ({ index, topic: e.topic, type: e.type, at: command.at, payload: dropUndefined(e.payload) }));
}

/** Whether `event` passes a topic filter (null: every topic). Resets always pass. */
export function matchesTopics(event: ClusterEvent, topics: ReadonlySet<Topic> | null): boolean {
  return event.topic === "reset" || topics === null || topics.has(event.topic);
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
