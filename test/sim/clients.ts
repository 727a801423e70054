// Simulated clients: each process issues one operation at a time against
// the node that believes it is leader, and the outcomes form a Jepsen-style
// history checked for linearizability at the end of the run.
//  - write/cas: propose() returns (index, term); the op completes when that
//    node applies `index`: ok (or cas fail) if the entry there has our term,
//    fail if another entry took the index (ours can then never commit).
//    A crash, a snapshot jumping over the index, or a timeout leaves it
//    unknown (info).
//  - read: readIndex(); served from the node's state machine once it has
//    applied the ReadState's index.
import type { Entry, ReadState } from "../../core/raft/index.ts";
import type { HistoryEvent } from "../lincheck/types.ts";
import { kvSetCommand, type SimApp } from "./app.ts";

/** An applied normal entry's outcome for the clients: whether the (CAS) write took effect. */
export interface ApplyResult {
  ok: boolean;
}
import type { Rng } from "./prng.ts";
import type { Swarm } from "./swarm.ts";

interface Op {
  proc: number;
  process: number; // history process id; a new one after an unknown outcome (Jepsen convention)
  f: "read" | "write" | "cas";
  key: string;
  value: unknown;
  node: string;
  started: number;
  index?: number;
  term?: number;
  ctx?: string;
  readIndex?: number;
}

type NotLeader = { ok: false; leader?: string };

/** A node as a client reaches it. */
export interface ClientTarget {
  id: string;
  kv: Pick<SimApp, "get" | "appliedIndex">;
  propose(data: string): { ok: true; index: number; term: number } | NotLeader | { ok: false };
  readIndex(ctx: string): { ok: true } | NotLeader | { ok: false };
  /** Run the node's Ready loop: called after the operation is registered, since it may complete it at once. */
  flush(): void;
}

/** What the clients need from the simulation. */
export interface ClientHost {
  now(): number;
  /** A running node, or undefined if it is down (the request times out). */
  node(id: string): ClientTarget | undefined;
  /** Ids of every node that may be running (where to look for a leader). */
  nodeIds(): string[];
  scheduleClient(proc: number, at: number): void;
}

export class Clients {
  readonly history: HistoryEvent[] = [];
  private clock = 0;
  private nextValue = 1;
  private nextCtx = 1;
  private generation: number[];
  private busy = new Map<number, Op>();
  /** Each client's guess of the leader: sticky, corrected by NOT_LEADER hints, like a real client. */
  private target: (string | undefined)[];
  completed = 0;

  constructor(
    private readonly rng: Rng,
    private readonly swarm: Swarm,
    private readonly host: ClientHost,
  ) {
    this.generation = new Array<number>(swarm.clients).fill(0);
    this.target = new Array<string | undefined>(swarm.clients).fill(undefined);
    for (let p = 0; p < swarm.clients; p++) host.scheduleClient(p, rng.int(1, swarm.clientThink));
  }

  private emit(op: Op, type: HistoryEvent["type"], value: unknown): void {
    this.history.push({ process: op.process, type, f: op.f, key: op.key, value, time: ++this.clock });
  }

  /**
   * A client's think time is over: issue its next operation to the node it
   * believes leads. Clients are not clairvoyant: a deposed leader that still
   * thinks it leads keeps getting requests, which is what makes stale reads
   * observable.
   */
  issue(proc: number): void {
    if (this.busy.has(proc)) return;
    const again = () => this.host.scheduleClient(proc, this.host.now() + this.rng.int(1, 2 * this.swarm.clientThink));
    const guess = this.target[proc];
    const node = guess === undefined ? undefined : this.host.node(guess);
    if (!node) {
      this.target[proc] = this.rng.pick(this.host.nodeIds());
      return again();
    }
    const key = `k${this.rng.int(1, this.swarm.keys)}`;
    const r = this.rng.next();
    const f = r < this.swarm.readRatio ? "read" : r < this.swarm.readRatio + this.swarm.casRatio ? "cas" : "write";
    const process = proc + this.swarm.clients * this.generation[proc]!;
    const op: Op = { proc, process, f, key, value: null, node: node.id, started: this.host.now() };
    if (f === "read") {
      op.ctx = `c${this.nextCtx++}`;
      this.emit(op, "invoke", null);
      const res = node.readIndex(op.ctx);
      if (!res.ok) return this.refused(op, res);
    } else {
      const value = this.nextValue++;
      // CAS on the ModifyIndex this (maybe stale) replica shows: every write
      // puts a fresh value, so "same ModifyIndex" is "same value" and the
      // history stays a register with compare-and-set.
      const seen = node.kv.get(key);
      op.value = f === "write" ? value : [seen.value, value];
      this.emit(op, "invoke", op.value);
      const res = node.propose(kvSetCommand(key, value, f === "cas" ? seen.modifyIndex : undefined));
      if (!res.ok) return this.refused(op, res);
      op.index = res.index;
      op.term = res.term;
    }
    this.busy.set(proc, op);
    node.flush();
  }

  /** NOT_LEADER (or busy): the operation did not happen; follow the hint next time. */
  private refused(op: Op, res: { ok: false; leader?: string }): void {
    this.target[op.proc] = res.leader ?? this.rng.pick(this.host.nodeIds());
    this.complete(op, "fail", op.value);
  }

  private complete(op: Op, type: HistoryEvent["type"], value: unknown): void {
    this.emit(op, type, value);
    this.busy.delete(op.proc);
    if (type === "info") {
      this.generation[op.proc]!++;
      this.target[op.proc] = undefined; // it stopped answering: look elsewhere
    }
    else this.completed++;
    this.host.scheduleClient(op.proc, this.host.now() + this.rng.int(1, 2 * this.swarm.clientThink));
  }

  /** `node` applied `e` (result for normal entries). */
  onApply(node: string, e: Entry, result: ApplyResult | undefined): void {
    for (const op of this.busy.values()) {
      if (op.node !== node || op.index !== e.index) continue;
      if (e.term !== op.term) this.complete(op, "fail", op.value);
      else if (op.f === "write") this.complete(op, "ok", op.value);
      else this.complete(op, result?.ok ? "ok" : "fail", op.value);
    }
  }

  onReadStates(node: string, states: ReadState[]): void {
    for (const rs of states) {
      for (const op of this.busy.values()) if (op.node === node && op.ctx === rs.ctx) op.readIndex = rs.index;
    }
  }

  /** After `node` applied a batch: serve reads whose index is now applied. */
  serveReads(node: string, kv: Pick<SimApp, "get" | "appliedIndex">): void {
    for (const op of this.busy.values()) {
      if (op.node === node && op.readIndex !== undefined && kv.appliedIndex >= op.readIndex) this.complete(op, "ok", kv.get(op.key).value);
    }
  }

  /** `node` restored a snapshot at `index`: writes at or below it cannot be matched any more. */
  onSnapshot(node: string, index: number): void {
    for (const op of this.busy.values()) if (op.node === node && op.index !== undefined && op.index <= index) this.complete(op, "info", op.value);
  }

  onCrash(node: string): void {
    for (const op of this.busy.values()) if (op.node === node) this.complete(op, "info", op.f === "read" ? null : op.value);
  }

  /** Give up on operations older than `timeout` units (the client stops waiting). */
  expire(timeout: number): void {
    const now = this.host.now();
    for (const op of this.busy.values()) if (now - op.started > timeout) this.complete(op, "info", op.f === "read" ? null : op.value);
  }

  /** End of the run: whatever is still pending has an unknown outcome. */
  finish(): void {
    for (const op of [...this.busy.values()]) this.emit(op, "info", op.f === "read" ? null : op.value);
    this.busy.clear();
  }
}
