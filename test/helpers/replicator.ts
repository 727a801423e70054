// A one-voter Raft replicator over a store, with no peers: the production
// write path (propose -> log -> FSM) without sockets, for state tests.
import { RaftReplicator } from "../../core/cluster/raft/replicator.ts";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { silentLogger } from "../../core/log.ts";
import type { Store } from "../../core/store/db.ts";
import type { Fsm } from "../../core/state/fsm.ts";

export function testReplicator(store: Store, fsm: Fsm): RaftReplicator {
  const r = new RaftReplicator({
    id: "self", selfAddress: "127.0.0.1:1", peers: [], join: false, store, fsm,
    storage: new SqliteRaftStorage(store), transport: { send() {}, close() {} },
    forwarder: { propose: () => Promise.reject(new Error("no peers")) },
    log: silentLogger, electionTimeoutMs: 1000, heartbeatIntervalMs: 100, snapshotThreshold: 8192,
  });
  r.start();
  return r;
}
