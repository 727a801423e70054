// Raft over HTTP and its operator API:
//   POST /v1/raft/message                      peer messages (signed; cluster-auth middleware; a fast path)
//   GET  /v1/operator/raft                     members, role, term, indexes, last contact
//   GET  /v1/operator/raft/configuration       the same in Consul's shape
//   POST /v1/operator/raft/peers               add a leader-role peer  {"address": "host:port"}
//   DELETE /v1/operator/raft/peers/{address}   remove one
//   POST /v1/operator/raft/transfer-leader     {"to"?: "host:port"}
//   GET  /v1/snapshot                          a consistent backup of the whole state
//   PUT  /v1/snapshot                          restore a backup (replicated)
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, replicationApiError, statusForCode } from "../http/errors.ts";
import { ReplicationError } from "../state/replicator.ts";
import type { RaftReplicator } from "../cluster/raft/replicator.ts";
import type { Message } from "../raft/index.ts";
import { dumpState, encodeDump } from "../state/snapshot.ts";
import { fastRoute } from "../http/fast-route.ts";
import { isPlainBatch, MessageBatch } from "./raft-batch.ts";
import type { Store } from "../store/db.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonBody, jsonResponse, pathParam } from "./schemas.ts";

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;
const Address = z.string().regex(HOST_PORT, 'expected "host:port"');


const RAFT_STATUS = createRoute({
  method: "get", path: "/v1/operator/raft", tags: ["operator"], summary: "Raft members, role, term, commit and applied index, last contact",
  responses: jsonResponse(z.object({}).passthrough()),
});

const RAFT_CONFIGURATION = createRoute({
  method: "get", path: "/v1/operator/raft/configuration", tags: ["operator"], summary: "Raft configuration in Consul's shape",
  responses: jsonResponse(z.object({}).passthrough()),
});

const RAFT_ADD_PEER = createRoute({
  method: "post", path: "/v1/operator/raft/peers", tags: ["operator"], summary: "Add a leader-role peer (started with raft.join = true)",
  request: jsonBody(z.object({ address: Address }).strict()),
  responses: { ...jsonResponse(z.object({ index: z.number() })), ...errorResponses },
});

const RAFT_REMOVE_PEER = createRoute({
  method: "delete", path: "/v1/operator/raft/peers/{address}", tags: ["operator"], summary: "Remove a leader-role peer",
  request: { params: z.object({ address: Address }) },
  responses: { ...jsonResponse(z.object({ index: z.number() })), ...errorResponses },
});

const RAFT_TRANSFER_LEADER = createRoute({
  method: "post", path: "/v1/operator/raft/transfer-leader", tags: ["operator"], summary: "Hand leadership to another voter (the most up-to-date one by default)",
  request: { body: { required: false, content: { "application/json": { schema: z.object({ to: Address.optional() }).strict() } } } },
  responses: { ...jsonResponse(z.object({ leader: z.string().nullable() })), ...errorResponses },
});

const SNAPSHOT_SAVE = createRoute({
  method: "get", path: "/v1/snapshot", tags: ["operator"], summary: "A consistent snapshot of the whole state (backup)",
  responses: { 200: { description: "The state dump (JSON)", content: { "application/json": { schema: z.object({}).passthrough() } } } },
});

const SNAPSHOT_RESTORE = createRoute({
  method: "put", path: "/v1/snapshot", tags: ["operator"], summary: "Restore a snapshot: every node's state is replaced through the log",
  responses: { ...jsonResponse(z.object({ index: z.number() })), ...errorResponses },
});

/**
 * The operator routes on an agent: it holds no Raft peer, so it hands them to
 * a leader (as Nomad's and Consul's client agents do) after its own ACL
 * check; the route table forwards before any handler would run.
 */
export function raftRoutesOnAgent(d: CoreApiDeps) {
  for (const route of [RAFT_STATUS, RAFT_CONFIGURATION, RAFT_ADD_PEER, RAFT_REMOVE_PEER, RAFT_TRANSFER_LEADER, SNAPSHOT_SAVE, SNAPSHOT_RESTORE]) {
    d.routes.add({ owner: "core", route, leader: "forward", handler: () => { throw new ApiError(503, "NO_LEADER", "this agent reaches no leader"); } });
  }
}

function replicationError(err: unknown): never {
  if (err instanceof ReplicationError) {
    throw replicationApiError(err);
  }
  throw err;
}

export function raftRoutes(d: CoreApiDeps, raft: RaftReplicator, store: Store) {
  type Entry = Parameters<CoreApiDeps["routes"]["add"]>[0];
  // The peer protocol is this node's own; the operator routes answer this
  // node's view on a leader-role node, and an agent hands them to a leader.
  const add = (route: ReturnType<typeof createRoute>, handler: Entry["handler"], fast?: Entry["fast"]) =>
    d.routes.add({ owner: "core", route, handler, leader: route.path === "/v1/raft/message" ? "local" : "forward", fast });

  add(
    createRoute({
      method: "post", path: "/v1/raft/message", tags: ["raft"], summary: "Raft messages from a peer (signed with the cluster secret)",
      request: jsonBody(MessageBatch),
      responses: { 204: { description: "Accepted" }, ...errorResponses },
    }),
    (c) => {
      const batch = c.req.valid("json" as never) as { messages: Message[] };
      raft.step(batch.messages);
      return c.body(null, 204);
    },
    // Every replicated write costs each follower one or two peer messages and
    // the leader as many answers: the busiest route of a loaded cluster. Its
    // fast path skips hono (core/http/fast-route.ts); the route table checks
    // the signature, the Raft message cap and this route's MessageBatch schema
    // (skipped for a batch isPlainBatch vouches for: core/api/raft-batch.ts).
    fastRoute({
      json: true,
      surelyValid: isPlainBatch,
      answer: ({ data }) => {
        raft.step((data as { messages: Message[] }).messages);
        return new Response(null, { status: 204 });
      },
    }),
  );

  add(RAFT_STATUS, (c) => {
    const st = raft.raftStatus();
    const rs = raft.status();
    const members = st.voters.map((id) => {
      const pr = st.progress?.[id];
      return {
        address: id,
        leader: id === st.leader,
        voter: true,
        ...(pr ? { matchIndex: pr.match, state: pr.state, lastContactTicks: st.tick - pr.lastContactTick } : {}),
      };
    });
    return c.json({
      id: st.id, role: st.role, term: st.term, leader: st.leader ?? null,
      commitIndex: st.commitIndex, appliedIndex: rs.appliedIndex, lastIndex: st.lastIndex, snapshotIndex: st.snapshotIndex,
      lastContactMs: rs.lastContactMs, members,
    });
  });

  add(RAFT_CONFIGURATION, (c) => {
    const st = raft.raftStatus();
    return c.json({
      Servers: st.voters.map((id) => ({ ID: id, Node: id, Address: id, Leader: id === st.leader, Voter: true, ProtocolVersion: "3" })),
      Index: st.commitIndex,
    });
  });

  add(RAFT_ADD_PEER, async (c) => {
    const { address } = c.req.valid("json" as never) as { address: string };
    const index = await raft.changeMembership("add", address).catch(replicationError);
    return c.json({ index });
  });

  add(RAFT_REMOVE_PEER, async (c) => {
    const index = await raft.changeMembership("remove", pathParam(c, "address")).catch(replicationError);
    return c.json({ index });
  });

  add(RAFT_TRANSFER_LEADER, async (c) => {
    const body = (c.req.valid("json" as never) ?? {}) as { to?: string };
    try {
      raft.transferLeadership(body.to);
    } catch (err) {
      replicationError(err);
    }
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && raft.status().isLeader) await new Promise((r) => setTimeout(r, 20));
    return c.json({ leader: raft.status().leader ?? null });
  });

  add(SNAPSHOT_SAVE, async (c) => {
    // Read barrier first: a backup taken on a deposed leader would be stale.
    await raft.readBarrier().catch(replicationError);
    const { index, data } = store.transaction(() => ({ index: d.state.appliedIndex(), data: encodeDump(dumpState(store)) }));
    c.header("X-Corral-Index", String(index));
    c.header("Content-Disposition", `attachment; filename="corral-snapshot-${index}.json"`);
    return c.body(data, 200, { "Content-Type": "application/json" });
  });

  add(SNAPSHOT_RESTORE, async (c) => {
    const data = await c.req.text();
    const out = await d.propose({ type: "RestoreState", v: 1, at: Date.now(), data });
    if (!out.result.ok) throw new ApiError(400, out.result.code, out.result.message);
    return c.json({ index: out.index });
  });
}
