// One simulated server, built like a real corral leader-role node: a
// RaftNode, the real driver (core/raft/driver.ts), the SQLite storage and
// core/state's FSM and appliers (core/cluster/raft/fsm-machine.ts), all on
// an in-memory SQLite database, the "disk" that alone survives a crash.
// Everything else (node, driver, FSM caches) is rebuilt on restart from
// what the database holds, exactly as core/node.ts does at start.
import { RaftDriver, RaftNode, type CrashPoint, type DriverTransport, type Entry, type Persist, type PersistedState, type RaftConfig, type RaftStorage, type Snapshot } from "../../core/raft/index.ts";
import { SqliteRaftStorage, TRIM_ROWS_PER_READY } from "../../core/cluster/raft/storage.ts";
import { FsmStateMachine } from "../../core/cluster/raft/fsm-machine.ts";
import { Fsm } from "../../core/state/fsm.ts";
import type { Store } from "../../core/store/db.ts";
import { SimApp, type SimApplied } from "./app.ts";
import type { Rng } from "./prng.ts";
import { openMemoryStore } from "./store.ts";
import { TICK_UNITS, type Swarm } from "./swarm.ts";

/** Thrown at a driver crash point: the node dies there, mid-Ready. */
export class SimCrash extends Error {
  constructor(readonly at: CrashPoint) {
    super(`simulated crash at ${at}`);
  }
}

export interface SimNodeHooks {
  transport: DriverTransport;
  /** Before a Ready's entries are saved (the checker's Log Matching view). */
  onPersist(node: SimNode, entries: Entry[], prevTerm: number | undefined, commit: number): void;
  crashPoint(node: SimNode, at: CrashPoint): void;
  /** A deferred sync started (Swarm.syncDelay > 0): call done when it completes, in this life only. */
  startSync(node: SimNode, done: (err?: Error) => void): void;
  /** Deliberately broken core/raft variants (the simulator's self-test). */
  unsafe?: RaftConfig["unsafe"];
}

export class SimNode {
  readonly store: Store = openMemoryStore();
  storage: SqliteRaftStorage | undefined;
  raft: RaftNode | undefined;
  driver: RaftDriver<SimApplied> | undefined;
  app: SimApp | undefined;
  /** Bumped on every crash so that events scheduled for an earlier life are ignored. */
  incarnation = 0;
  /** Permanently shut down (removed from the cluster). */
  gone = false;
  readonly tickUnits: number;
  crashes = 0;

  constructor(
    readonly id: string,
    /** Bootstrap voters, or [] for a node that joins later. */
    readonly peers: string[],
    private readonly rng: Rng,
    private readonly swarm: Swarm,
    private readonly hooks: SimNodeHooks,
  ) {
    const drift = swarm.clockDrift * (2 * rng.next() - 1);
    this.tickUnits = Math.max(1, Math.round(TICK_UNITS * (1 + drift)));
  }

  get alive(): boolean {
    return this.raft !== undefined;
  }

  /** Start (or restart) from what the database holds, as core/node.ts does. */
  start(): void {
    const storage = new SqliteRaftStorage(this.store);
    const fsm = new Fsm(this.store);
    const restore = storage.load();
    const raft = new RaftNode({
      id: this.id,
      peers: this.peers,
      electionTicks: this.swarm.electionTicks,
      heartbeatTicks: this.swarm.heartbeatTicks,
      maxEntriesPerAppend: this.swarm.maxEntriesPerAppend,
      maxInflightAppends: this.swarm.maxInflightAppends,
      preVote: this.swarm.preVote,
      checkQuorum: this.swarm.checkQuorum,
      rng: this.rng.fork().next,
      restore,
      applied: restore ? fsm.appliedIndex() : undefined,
      unsafe: this.hooks.unsafe,
    });
    const app = new SimApp(this.store, fsm, new FsmStateMachine(this.store, fsm));
    const hooks = this.hooks;
    const self = this;
    const checked = new CheckedStorage(storage, (rd) => {
      if (rd.entries.length === 0) return;
      const first = rd.entries[0]!.index;
      const prevTerm = rd.snapshot && first === rd.snapshot.index + 1 ? rd.snapshot.term : storage.term(first - 1);
      hooks.onPersist(self, rd.entries, prevTerm, rd.hardState?.commit ?? raft.status().commitIndex);
    });
    this.storage = storage;
    this.app = app;
    this.raft = raft;
    this.driver = new RaftDriver({
      node: raft,
      storage: checked,
      transport: hooks.transport,
      stateMachine: app,
      crashPoint: (at) => hooks.crashPoint(self, at),
      housekeeping: () => storage.trim(TRIM_ROWS_PER_READY),
      // The simulator's "synced" event drains the node after calling done: nothing to wake here.
      deferredSync: this.swarm.syncDelay > 0 ? { sync: { start: (done) => hooks.startSync(self, done) }, wake: () => {} } : undefined,
    });
  }

  crash(): void {
    this.raft = undefined;
    this.driver = undefined;
    this.app = undefined;
    this.storage = undefined;
    this.incarnation++;
    this.crashes++;
  }
}

/** The real storage, with the checker looking at each save first. */
class CheckedStorage implements RaftStorage {
  constructor(
    private readonly inner: RaftStorage,
    private readonly beforeSave: (rd: Persist) => void,
  ) {}
  save(rd: Persist): void {
    this.beforeSave(rd);
    this.inner.save(rd);
  }
  load(): PersistedState | undefined {
    return this.inner.load();
  }
  compact(snap: Snapshot): void {
    this.inner.compact(snap);
  }
  atomically<T>(durable: boolean, fn: () => T): T {
    return this.inner.atomically(durable, fn);
  }
  snapshotIndex(): number {
    return this.inner.snapshotIndex();
  }
  lastIndex(): number {
    return this.inner.lastIndex();
  }
  snapshot(): Snapshot | undefined {
    return this.inner.snapshot();
  }
  term(index: number): number | undefined {
    return this.inner.term(index);
  }
  entries(lo: number, hi: number): Entry[] {
    return this.inner.entries(lo, hi);
  }
}
