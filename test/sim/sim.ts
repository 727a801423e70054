// The deterministic simulator (TigerBeetle's VOPR idea): the real thing
// (RaftNode, the one driver, the SQLite storage, core/state's FSM and
// appliers, on in-memory SQLite; node.ts) under a simulated clock and
// network, with crashes at the driver's crash points, all driven by one
// seed. Phase 1 runs clients under the seed's fault mix and checks safety
// after every event; phase 2 heals everything and requires a leader and a
// commit within a tick budget (liveness.ts). Finally the clients' history
// must be linearizable.
import type { CrashPoint, Message, RaftConfig } from "../../core/raft/index.ts";
import { checkHistory } from "../lincheck/check.ts";
import { SafetyChecker } from "./checker.ts";
import { Clients } from "./clients.ts";
import { EventHeap } from "./heap.ts";
import { Faults } from "./faults.ts";
import { Liveness } from "./liveness.ts";
import { SimNetwork } from "./network.ts";
import { SimCrash, SimNode, type SimNodeHooks } from "./node.ts";
import { mulberry32, type Rng } from "./prng.ts";
import { pickSwarm, TICK_UNITS, type Swarm } from "./swarm.ts";
import { kvSetSucceeded } from "./app.ts";
import type { LogView } from "./checker.ts";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

type SimEvent =
  | { time: number; seq: number; kind: "tick"; node: string; incarnation: number }
  | { time: number; seq: number; kind: "deliver"; msg: Message }
  | { time: number; seq: number; kind: "restart"; node: string; incarnation: number }
  | { time: number; seq: number; kind: "client"; proc: number }
  | { time: number; seq: number; kind: "fault"; fault: string }
  | { time: number; seq: number; kind: "probe" }
  | { time: number; seq: number; kind: "synced"; node: string; incarnation: number; done: (err?: Error) => void };

type NewEvent = SimEvent extends infer E ? (E extends SimEvent ? Omit<E, "seq"> : never) : never;

export interface SimStats {
  events: number;
  maxTerm: number;
  committed: number;
  messages: number;
  dropped: number;
  /** Peer streams lost whole (network.ts). */
  streamBreaks: number;
  crashes: number;
  /** Crashes inside the driver, by crash point. */
  driverCrashes: Partial<Record<CrashPoint, number>>;
  snapshotsInstalled: number;
  confChanges: number;
  clientOps: number;
  historyEvents: number;
  livenessTicks: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  swarm: Swarm;
  stats: SimStats;
}

export class Simulation {
  readonly rng: Rng;
  readonly swarm: Swarm;
  readonly net: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly nodes = new Map<string, SimNode>();
  readonly clients: Clients;
  readonly faults: Faults;
  private heap = new EventHeap<SimEvent>();
  private seq = 0;
  now = 0;
  phase: 1 | 2 = 1;
  events = 0;
  snapshotsInstalled = 0;
  readonly driverCrashes: Partial<Record<CrashPoint, number>> = {};
  private readonly nodeHooks: SimNodeHooks;
  private failure: string | undefined;
  private readonly liveness = new Liveness(this);

  constructor(
    readonly seed: number,
    override: Partial<Swarm> = {},
    unsafe?: RaftConfig["unsafe"],
  ) {
    this.rng = mulberry32(seed);
    const crashRng = this.rng.fork();
    // Its own stream, so that seeds without deferred syncs draw exactly as before.
    const syncRng = mulberry32(seed ^ 0x5eed5);
    this.nodeHooks = {
      unsafe,
      transport: { send: (msgs) => this.send(msgs) },
      onPersist: (node, entries, prevTerm, commit) => this.checker.onPersist(node.id, entries, prevTerm, commit),
      crashPoint: (node, at) => {
        const dies = this.faults.diesNow(node.id, node.incarnation) || (this.phase === 1 && this.swarm.crashInDriver > 0 && crashRng.chance(this.swarm.crashInDriver));
        if (!dies) return;
        this.driverCrashes[at] = (this.driverCrashes[at] ?? 0) + 1;
        throw new SimCrash(at);
      },
      startSync: (node, done) => {
        this.schedule({ time: this.now + syncRng.int(0, this.swarm.syncDelay), kind: "synced", node: node.id, incarnation: node.incarnation, done });
      },
    };
    this.swarm = { ...pickSwarm(this.rng.fork()), ...override };
    this.net = new SimNetwork(this.rng.fork(), this.swarm);
    const ids = Array.from({ length: this.swarm.nodes }, (_, i) => `n${i + 1}`);
    this.faults = new Faults(this, this.rng.fork(), ids);
    this.clients = new Clients(this.rng.fork(), this.swarm, {
      now: () => this.now,
      node: (id) => {
        const n = this.nodes.get(id);
        const raft = n?.raft;
        const app = n?.app;
        if (!n || !raft || !app) return undefined;
        return { id, kv: app, propose: (d) => raft.propose(d), readIndex: (c) => raft.readIndex(c), flush: () => this.withReady(n, () => undefined) };
      },
      nodeIds: () => [...this.nodes.values()].filter((n) => !n.gone).map((n) => n.id),
      scheduleClient: (proc, at) => this.schedule({ time: at, kind: "client", proc }),
    });
    for (const id of ids) this.addNode(id, ids);
  }

  schedule(e: NewEvent): void {
    this.heap.push({ ...e, seq: this.seq++ } as SimEvent);
  }

  addNode(id: string, peers: string[]): SimNode {
    const node = new SimNode(id, peers, this.rng.fork(), this.swarm, this.nodeHooks);
    this.nodes.set(id, node);
    this.startNode(node);
    return node;
  }

  private startNode(node: SimNode): void {
    node.start();
    this.processReady(node);
    this.schedule({ time: this.now + node.tickUnits, kind: "tick", node: node.id, incarnation: node.incarnation });
  }

  crash(node: SimNode, restartAfter: number | undefined): void {
    if (!node.alive) return;
    node.crash();
    this.net.dropStreamsOf(node.id);
    this.clients.onCrash(node.id);
    if (restartAfter !== undefined) this.schedule({ time: this.now + restartAfter, kind: "restart", node: node.id, incarnation: node.incarnation });
  }

  /** The alive node with the highest term that believes it leads. */
  leaderId(): string | undefined {
    let best: { id: string; term: number } | undefined;
    for (const n of this.nodes.values()) {
      const st = n.raft?.status();
      if (st?.role === "leader" && (!best || st.term > best.term)) best = { id: n.id, term: st.term };
    }
    return best?.id;
  }

  /** Run `f` against a node's raft, then its Ready loop and the checks. */
  withReady<T>(node: SimNode, f: () => T): T {
    const out = f();
    this.processReady(node);
    if (node.raft) this.checker.observe(node.id, node.raft);
    return out;
  }

  /** Every server of the committed configuration, as it would campaign and vote now (disk for crashed ones). */
  private logViews(): LogView[] {
    const voters = this.faults.committedVoters;
    const views: LogView[] = [];
    for (const id of voters) {
      const n = this.nodes.get(id);
      if (!n || n.gone) continue;
      const raft = n.raft;
      if (raft) {
        const st = raft.status();
        if (!sameSet(st.voters, voters)) return []; // a configuration in flux: the majority argument needs one voter set
        views.push({ id, lastIndex: st.lastIndex, lastTerm: raft.termAt(st.lastIndex) ?? 0, has: (i, t) => i <= st.snapshotIndex || raft.termAt(i) === t });
      } else {
        const disk = new SqliteRaftStorage(n.store);
        const last = disk.lastIndex();
        const snap = disk.snapshotIndex();
        views.push({ id, lastIndex: last, lastTerm: disk.term(last) ?? 0, has: (i, t) => i <= snap || disk.term(i) === t });
      }
    }
    return views.length === voters.length ? views : [];
  }

  private send(msgs: Message[]): void {
    for (const m of msgs) this.net.send(this.now, m, (time, msg) => this.schedule({ time, kind: "deliver", msg }));
  }

  /**
   * The node's Ready loop: the real driver's, with the simulator's checks
   * after each Ready. A SimCrash thrown at a crash point kills the node
   * right there (SQLite rolled back an open transaction).
   */
  processReady(node: SimNode): void {
    const driver = node.driver;
    if (!driver) return;
    try {
      driver.drain(({ ready: rd, applied }) => {
        const raft = node.raft!;
        const app = node.app!;
        if (rd.softState?.role === "leader") this.faults.onLeaderElected(node.id, node.incarnation);
        if (rd.snapshot) {
          this.snapshotsInstalled++;
          this.checker.onRestore(node.id, rd.snapshot, app.stateHash());
          this.clients.onSnapshot(node.id, rd.snapshot.index);
        }
        const term = raft.status().term;
        for (const a of applied) {
          const first = !this.checker.committed.has(a.entry.index);
          this.checker.onApply(node.id, a.entry, a.hash, term, a.result);
          if (first) this.checker.checkElectable(a.entry.index, a.entry.term, this.logViews());
          this.clients.onApply(node.id, a.entry, a.entry.type === "normal" ? { ok: kvSetSucceeded(a.applied) } : undefined);
          if (a.entry.type === "conf") this.faults.onConfCommitted(a.entry);
        }
        this.clients.onReadStates(node.id, rd.readStates);
        this.clients.serveReads(node.id, app);
        raft.checkInvariants();
        const compacted = driver.maybeCompact(this.swarm.compactEvery);
        if (compacted?.ok) this.checker.onSnapshot(node.id, compacted.snapshot);
      });
    } catch (err) {
      if (!(err instanceof SimCrash)) throw err;
      this.crash(node, this.restartDelay());
    }
  }

  restartDelay(): number {
    return this.rng.int(this.swarm.restartAfter[0], this.swarm.restartAfter[1]);
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick": {
        const node = this.nodes.get(ev.node)!;
        if (node.incarnation !== ev.incarnation || !node.raft) return;
        this.withReady(node, () => node.raft!.tick());
        // A crash inside the Ready loop ends this life's tick chain; a restart starts a new one.
        if (node.incarnation === ev.incarnation) this.schedule({ time: this.now + node.tickUnits, kind: "tick", node: node.id, incarnation: node.incarnation });
        return;
      }
      case "deliver": {
        const node = this.nodes.get(ev.msg.to);
        if (!node?.raft || !this.net.arrives(ev.msg)) return;
        this.withReady(node, () => node.raft!.step(ev.msg));
        return;
      }
      case "restart": {
        const node = this.nodes.get(ev.node)!;
        if (node.incarnation === ev.incarnation && !node.alive && !node.gone) this.startNode(node);
        return;
      }
      case "client":
        this.clients.expire(10 * this.swarm.electionTicks * TICK_UNITS);
        return this.clients.issue(ev.proc);
      case "fault":
        return this.faults.fire(ev.fault);
      case "probe":
        return this.probeLiveness();
      case "synced": {
        // A crash loses the sync with the process (the database keeps the unsynced commit: a process crash, not a power loss).
        const node = this.nodes.get(ev.node)!;
        if (node.incarnation !== ev.incarnation || !node.raft) return;
        this.withReady(node, () => ev.done());
        return;
      }
    }
  }

  /** Phase 2: heal everything, restart every node, then watch for liveness. */
  private startPhase2(): void {
    this.phase = 2;
    this.net.healAll();
    for (const n of this.nodes.values()) if (!n.alive && !n.gone) this.startNode(n);
    this.liveness.start();
    this.schedule({ time: this.now + TICK_UNITS, kind: "probe" });
  }

  private probeLiveness(): void {
    const verdict = this.liveness.probe();
    if (verdict === "pending") this.schedule({ time: this.now + TICK_UNITS, kind: "probe" });
    else if (verdict !== "done") this.failure ??= verdict;
  }

  describeNodes(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (n.gone) return `${n.id}:gone`;
        const st = n.raft?.status();
        if (!st) return `${n.id}:down`;
        return `${n.id}:${st.role}/t${st.term}/c${st.commitIndex}/a${st.appliedIndex}/l${st.lastIndex}/v[${st.voters.join(",")}]`;
      })
      .join(" ");
  }

  run(): SimResult {
    const phase1End = this.swarm.phase1Ticks * TICK_UNITS;
    this.faults.start();
    try {
      while (this.failure === undefined && this.checker.violation === undefined) {
        if (this.phase === 1 && this.now >= phase1End) this.startPhase2();
        if (this.phase === 2 && this.liveness.ticksTaken >= 0) break;
        const ev = this.heap.pop();
        if (!ev) {
          this.failure = "simulation ran out of events";
          break;
        }
        this.now = Math.max(this.now, ev.time);
        this.events++;
        this.handle(ev);
      }
    } catch (e) {
      this.failure = `exception at t=${this.now}: ${(e as Error).stack ?? e}`;
    }
    this.clients.finish();
    let failure = this.checker.violation ?? this.failure;
    if (!failure) {
      const lin = checkHistory(this.clients.history, { maxStepsPerKey: 2_000_000 });
      if (!lin.ok) failure = `linearizability: ${JSON.stringify({ perKey: lin.perKey, counterexample: lin.counterexample }, (_k, v) => (v === Infinity ? "inf" : v))}`;
    }
    return { seed: this.seed, ok: !failure, ...(failure ? { failure: `${failure} (t=${this.now})` } : {}), swarm: this.swarm, stats: this.stats() };
  }

  private stats(): SimStats {
    let maxTerm = 0;
    let crashes = 0;
    for (const n of this.nodes.values()) {
      maxTerm = Math.max(maxTerm, n.raft?.status().term ?? 0);
      crashes += n.crashes;
    }
    return {
      events: this.events,
      maxTerm,
      committed: this.checker.maxCommitted,
      messages: this.net.sent,
      dropped: this.net.dropped,
      streamBreaks: this.net.streamBreaks,
      crashes,
      driverCrashes: this.driverCrashes,
      snapshotsInstalled: this.snapshotsInstalled,
      confChanges: this.faults.confChangesCommitted,
      clientOps: this.clients.completed,
      historyEvents: this.clients.history.length,
      livenessTicks: this.liveness.ticksTaken,
    };
  }
}

export function runSeed(seed: number, override: Partial<Swarm> = {}, unsafe?: RaftConfig["unsafe"]): SimResult {
  return new Simulation(seed, override, unsafe).run();
}
