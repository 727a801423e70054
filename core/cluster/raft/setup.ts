// Builds a leader-role node's Raft replicator from its config. The node's
// Raft id is its advertised "host:port": what peers list in leader.peers and
// what `corral operator raft add-peer` takes.
import type { NodeKey } from "../../http/rpc-signature.ts";
import type { Config } from "../../config/types.ts";
import type { Logger } from "../../log.ts";
import type { Store } from "../../store/db.ts";
import type { Fsm } from "../../state/fsm.ts";
import { RaftReplicator } from "./replicator.ts";
import { SqliteRaftStorage } from "./storage.ts";
import { HttpRaftTransport } from "./transport.ts";
import { leaderProposer } from "../leader-client.ts";
import { PLAIN_HTTP, type PeerHttp } from "../../http/tls.ts";

/**
 * A dev node is a cluster of one forever, so its Raft id need not be an
 * address: a fixed id lets it restart on another port (--http-port) and still
 * find itself in its voter set.
 */
export const DEV_RAFT_ID = "dev";

export function createRaft(opts: { config: Config; selfAddress: string; key: NodeKey; store: Store; fsm: Fsm; log: Logger; peer?: PeerHttp; onFatal?: (err: Error) => void }): RaftReplicator {
  const { config, selfAddress, key, store, fsm, log } = opts;
  const peer = opts.peer ?? PLAIN_HTTP;
  const dev = config.role === "dev";
  return new RaftReplicator({
    id: dev ? DEV_RAFT_ID : selfAddress,
    selfAddress,
    peers: dev ? [] : config.leader.peers,
    join: dev ? false : config.raft.join,
    store,
    fsm,
    storage: new SqliteRaftStorage(store),
    // A request that takes longer than an election timeout is worse than a dropped one.
    transport: new HttpRaftTransport({ self: selfAddress, key, log, timeoutMs: Math.max(1000, config.leader.electionTimeoutMs * 2), scheme: peer.scheme, fetch: peer.fetch }),
    forwarder: leaderProposer({ key, peer, timeoutMs: 15_000 }),
    log,
    electionTimeoutMs: config.leader.electionTimeoutMs,
    heartbeatIntervalMs: config.leader.heartbeatIntervalMs,
    snapshotThreshold: config.raft.snapshotThreshold,
    announceLeadership: true,
    onFatal: opts.onFatal,
  });
}
