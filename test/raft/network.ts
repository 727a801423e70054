// An in-memory network of RaftNodes for unit tests (etcd's raft_test.go
// `network`): messages move synchronously, in FIFO order, and can be dropped
// per link (cut, isolate) or per type (ignore). Each node has a
// MemoryStorage that survives crash()/restart(), and a trivial application
// that records what it applied. Each node's Ready loop is the real driver
// (core/raft/driver.ts), the one every corral node runs.
import { MemoryStorage, RaftDriver, RaftNode, type DriverStateMachine, type Entry, type Message, type MessageType, type PersistedState, type RaftConfig, type ReadState, type Snapshot } from "../../core/raft/index.ts";
import { mulberry32 } from "../sim/prng.ts";

export interface TestApp {
  /** data of applied "normal" entries, in order. */
  applied: string[];
  appliedIndex: number;
  snapshots: Snapshot[];
}

/**
 * A MemoryStorage that also keeps what a power loss would leave: its state
 * after each durable unit, or as of a deferred sync's start once that sync
 * completed (Network's `deferredSync` option).
 */
export class DiskStorage extends MemoryStorage {
  durable: PersistedState | undefined;

  override atomically<T>(durable: boolean, fn: () => T): T {
    const out = super.atomically(durable, fn);
    if (durable) this.durable = this.load();
    return out;
  }

  /** What the disk holds after a power loss: the last durable state. */
  static afterPowerLoss(from: DiskStorage): DiskStorage {
    const s = new DiskStorage();
    const img = from.durable;
    if (img) s.save({ snapshot: img.snapshot, entries: img.entries, hardState: img.hardState });
    s.durable = img;
    return s;
  }
}

export interface NetworkOptions {
  /**
   * Leaders make their new entries durable through a deferred sync
   * (RaftDriver's deferredSync) that completes only when the test calls
   * completeSyncs(): until then their own copy is lost by powerLoss().
   */
  deferredSync?: boolean;
}

export class Network {
  readonly nodes = new Map<string, RaftNode>();
  private drivers = new Map<string, RaftDriver<Entry>>();
  readonly storages = new Map<string, MemoryStorage>();
  readonly apps = new Map<string, TestApp>();
  readonly readStates = new Map<string, ReadState[]>();
  /** Every message delivered, in order (for assertions on the trace). */
  readonly delivered: Message[] = [];
  private queue: Message[] = [];
  private cutLinks = new Set<string>();
  private ignored = new Set<MessageType>();
  private seed = 1;
  /** Deferred syncs started and not completed, per node: what the disk will hold, and whom to tell. */
  private syncs = new Map<string, { image: PersistedState | undefined; done: (err?: Error) => void }[]>();

  constructor(
    ids: string[],
    readonly opts: Partial<RaftConfig> = {},
    readonly netOpts: NetworkOptions = {},
  ) {
    for (const id of ids) this.start(id, ids);
  }

  /** Start a node: bootstrapping with `peers`, joining with [], or restarting from storage. */
  start(id: string, peers: string[] = []): RaftNode {
    const storage = this.storages.get(id) ?? new DiskStorage();
    this.storages.set(id, storage);
    const restore = storage.load();
    const node = new RaftNode({
      electionTicks: 10,
      heartbeatTicks: 1,
      rng: mulberry32(this.seed++).next,
      ...this.opts,
      id,
      peers,
      restore,
    });
    this.nodes.set(id, node);
    const snap = storage.snapshot();
    const app: TestApp = {
      applied: snap ? (JSON.parse(snap.data) as string[]) : [],
      appliedIndex: snap?.index ?? 0,
      snapshots: [],
    };
    this.apps.set(id, app);
    const pending: { image: PersistedState | undefined; done: (err?: Error) => void }[] = [];
    this.syncs.set(id, pending);
    const deferredSync = this.netOpts.deferredSync
      ? { sync: { start: (done: (err?: Error) => void) => void pending.push({ image: storage.load(), done }) }, wake: () => this.drain(id) }
      : undefined;
    this.drivers.set(id, new RaftDriver({ node, storage, transport: { send: (msgs) => this.queue.push(...msgs) }, stateMachine: testStateMachine(app), deferredSync }));
    this.readStates.set(id, []);
    this.drain(id);
    return node;
  }

  crash(id: string): void {
    this.nodes.delete(id);
    this.drivers.delete(id);
    this.syncs.delete(id);
  }

  /** Crash `id` and keep only what its disk made durable (syncs not completed are lost). */
  powerLoss(id: string): void {
    this.crash(id);
    const disk = this.storages.get(id);
    if (disk instanceof DiskStorage) this.storages.set(id, DiskStorage.afterPowerLoss(disk));
  }

  /** Complete `id`'s deferred syncs started so far, in order (with `err`: they failed). */
  completeSyncs(id: string, err?: Error): void {
    const pending = this.syncs.get(id) ?? [];
    const disk = this.storages.get(id);
    for (const s of pending.splice(0)) {
      if (!err && disk instanceof DiskStorage) disk.durable = s.image;
      s.done(err);
    }
  }

  /** Deferred syncs started by `id` and not yet completed. */
  syncsPending(id: string): number {
    return this.syncs.get(id)?.length ?? 0;
  }

  restart(id: string): RaftNode {
    return this.start(id);
  }

  node(id: string): RaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no running node ${id}`);
    return n;
  }

  /** Run one node's Ready loop (the real driver): persist, queue messages, apply. */
  drain(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    this.drivers.get(id)!.drain(({ ready }) => {
      this.readStates.get(id)!.push(...ready.readStates);
      node.checkInvariants();
    });
  }

  /** Take a snapshot of `id`'s application at its applied index and compact. */
  compact(id: string): Snapshot {
    const node = this.node(id);
    const app = this.apps.get(id)!;
    const term = node.termAt(app.appliedIndex)!;
    const res = node.compact({ index: app.appliedIndex, term, data: JSON.stringify(app.applied) });
    if (!res.ok) throw new Error(res.message);
    this.storages.get(id)!.compact(res.snapshot);
    return res.snapshot;
  }

  /** Deliver queued messages (and what they trigger) until none are left. */
  stabilize(maxMessages = 100_000): void {
    if (!this.deliverUntil(() => false, maxMessages) && this.queue.length > 0) throw new Error("network did not stabilize");
  }

  /**
   * Deliver queued messages one at a time until `done()` holds (checked
   * before each delivery); returns whether it did.
   */
  deliverUntil(done: () => boolean, maxMessages = 100_000): boolean {
    for (const id of this.nodes.keys()) this.drain(id);
    for (let n = 0; n < maxMessages; n++) {
      if (done()) return true;
      const m = this.queue.shift();
      if (!m) return false;
      if (this.cutLinks.has(`${m.from}->${m.to}`) || this.ignored.has(m.type)) continue;
      const to = this.nodes.get(m.to);
      if (!to) continue;
      this.delivered.push(m);
      to.step(JSON.parse(JSON.stringify(m)) as Message); // as if over the wire
      this.drain(m.to);
    }
    return done();
  }

  /** Queue a hand-made message (it is delivered on the next stabilize). */
  inject(m: Message): void {
    this.queue.push(m);
  }

  /** Take the queued messages without delivering them. */
  takeQueue(): Message[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  tick(id: string, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.drain(id);
    }
  }

  /** Tick every running node n times, stabilizing after each round. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.nodes.keys()) this.tick(id);
      this.stabilize();
    }
  }

  campaign(id: string): void {
    this.node(id).campaign();
    this.stabilize();
  }

  propose(id: string, data: string) {
    const res = this.node(id).propose(data);
    this.stabilize();
    return res;
  }

  cut(a: string, b: string): void {
    this.cutLinks.add(`${a}->${b}`);
    this.cutLinks.add(`${b}->${a}`);
  }

  /** One direction only. */
  cutOneWay(from: string, to: string): void {
    this.cutLinks.add(`${from}->${to}`);
  }

  isolate(id: string): void {
    for (const other of this.storages.keys()) if (other !== id) this.cut(id, other);
  }

  ignore(type: MessageType): void {
    this.ignored.add(type);
  }

  recover(): void {
    this.cutLinks.clear();
    this.ignored.clear();
  }

  leaders(): string[] {
    return [...this.nodes.values()].filter((n) => n.status().role === "leader").map((n) => n.id);
  }

  applied(id: string): string[] {
    return this.apps.get(id)!.applied;
  }
}

/** The trivial application: the data of applied "normal" entries, in order; a snapshot is that list. */
function testStateMachine(app: TestApp): DriverStateMachine<Entry> {
  return {
    restore(snap) {
      app.applied = JSON.parse(snap.data) as string[];
      app.appliedIndex = snap.index;
      app.snapshots.push(snap);
    },
    apply(e) {
      if (e.index !== app.appliedIndex + 1) throw new Error(`applied ${e.index} after ${app.appliedIndex}`);
      app.appliedIndex = e.index;
      if (e.type === "normal") app.applied.push(e.data);
      return e;
    },
    published() {},
    rolledBack() {},
    snapshotData: () => JSON.stringify(app.applied),
  };
}
