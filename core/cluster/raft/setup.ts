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
import { HttpRaftTransport, type RaftTransport } from "./transport.ts";
import { StreamingRaftTransport } from "./stream-transport.ts";
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
    storage: new SqliteRaftStorage(store, { leaderFsync: config.raft.leaderFsync }),
    transport: peerTransport(opts, peer),
    forwarder: leaderProposer({ key, peer, timeoutMs: 15_000 }),
    log,
    electionTimeoutMs: config.leader.electionTimeoutMs,
    heartbeatIntervalMs: config.leader.heartbeatIntervalMs,
    snapshotThreshold: config.raft.snapshotThreshold,
    announceLeadership: true,
    onFatal: opts.onFatal,
  });
}

/**
 * Per-message signed requests, under streams when raft.stream is on. Not
 * over TLS yet (the stream client does not take the peer TLS trust), and not
 * while this node signs the previous release's v1 format (its peers cannot
 * take a stream, and v1 has no nonce to make a handshake single-use).
 */
function peerTransport(opts: { config: Config; selfAddress: string; key: NodeKey; log: Logger }, peer: PeerHttp): RaftTransport {
  const { config, selfAddress, key, log } = opts;
  // A request that takes longer than an election timeout is worse than a dropped one.
  const timeoutMs = Math.max(1000, config.leader.electionTimeoutMs * 2);
  const perMessage = new HttpRaftTransport({ self: selfAddress, key, log, timeoutMs, scheme: peer.scheme, fetch: peer.fetch });
  if (!config.raft.stream || peer.scheme !== "http" || key.legacy === "send" || config.role === "dev") return perMessage;
  return new StreamingRaftTransport({ key, log, fallback: perMessage, timeoutMs, maxFrameBytes: config.raft.maxMessageBytes });
}
