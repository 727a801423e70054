// The evaluation queue: an in-memory data structure with no timers, I/O or
// randomness, so the leader and the simulator drive it the same way.
//
// Ready evaluations dequeue by priority (higher first); within one priority,
// by namespace dominant share when the caller passes fairness input (DRF,
// drf.ts), and first in, first out otherwise and within a namespace.
//
// An evaluation whose plan came back blocked is parked with what its failed
// groups need. The caller reports capacity changes (a node joined or became
// ready, an allocation stopped, a node's resources grew) with the node's free
// resources after the change; every parked evaluation with a need that now
// fits there goes back to the ready queue. Re-evaluating is cheap and the
// scheduler decides for real; this only avoids re-running evaluations that
// cannot possibly succeed. One parked evaluation per job: a newer one
// (blocked or enqueued) replaces it, as in Nomad's BlockedEvals.

import { dominantShare, type DrfInput } from "./drf.ts";
import type { Resources } from "./types.ts";

export interface Evaluation {
  id: string;
  namespace: string;
  jobId: string;
  priority: number;
  /** What the evaluation would add to its namespace's usage (for DRF). */
  demand?: Resources;
}

export interface CapacityChange {
  nodeId: string;
  /** Free resources on the node after the change (capacity − reserved − used). */
  free: Resources;
  /** State index of the change; lets block() catch a change it raced with. */
  index?: number;
}

/** Bounds (STYLE: a limit on everything). */
export const QUEUE_LIMITS = {
  /** Ready evaluations; enqueue() refuses beyond this. */
  ready: 100_000,
  /** Parked evaluations; the oldest is dropped beyond this (a later change or resubmit re-creates it). */
  blocked: 10_000,
  /** Capacity changes remembered for block() races. */
  recentChanges: 256,
} as const;

interface Fifo {
  items: [number, Evaluation][];
  head: number;
}

interface Parked {
  ev: Evaluation;
  needs: Resources[];
}

const key = (ns: string, jobId: string) => `${ns}\u0000${jobId}`;

export class EvalQueue {
  /** priority → namespace → FIFO of [seq, evaluation]. */
  #ready = new Map<number, Map<string, Fifo>>();
  #ids = new Set<string>();
  #seq = 0;
  #blocked = new Map<string, Parked>();
  #recent: CapacityChange[] = [];

  get readyCount(): number {
    return this.#ids.size;
  }

  get blockedCount(): number {
    return this.#blocked.size;
  }

  /** Add a ready evaluation. False when it is already queued or the queue is full. */
  enqueue(ev: Evaluation): boolean {
    if (this.#ids.has(ev.id) || this.#ids.size >= QUEUE_LIMITS.ready) return false;
    this.#blocked.delete(key(ev.namespace, ev.jobId)); // the new evaluation supersedes a parked one
    let byNs = this.#ready.get(ev.priority);
    if (!byNs) this.#ready.set(ev.priority, (byNs = new Map()));
    let fifo = byNs.get(ev.namespace);
    if (!fifo) byNs.set(ev.namespace, (fifo = { items: [], head: 0 }));
    fifo.items.push([this.#seq++, ev]);
    this.#ids.add(ev.id);
    return true;
  }

  /** The next evaluation to run, or undefined when none is ready. */
  dequeue(fairness?: DrfInput): Evaluation | undefined {
    if (this.#ready.size === 0) return undefined;
    const top = Math.max(...this.#ready.keys());
    const byNs = this.#ready.get(top)!;
    let pickNs = "";
    let pickShare = Infinity;
    let pickSeq = Infinity;
    for (const [ns, fifo] of byNs) {
      const share = fairness ? dominantShare(fairness.usage[ns] ?? { cpuMhz: 0, memoryMb: 0 }, fairness.capacity, fairness.weights?.[ns] ?? 1) : 0;
      const seq = fifo.items[fifo.head]![0];
      if (share < pickShare || (share === pickShare && seq < pickSeq)) [pickNs, pickShare, pickSeq] = [ns, share, seq];
    }
    const fifo = byNs.get(pickNs)!;
    const [, ev] = fifo.items[fifo.head++]!;
    if (fifo.head === fifo.items.length) byNs.delete(pickNs);
    else if (fifo.head >= 1024 && fifo.head * 2 >= fifo.items.length) {
      fifo.items = fifo.items.slice(fifo.head); // keep dequeue O(1) amortized without unbounded garbage
      fifo.head = 0;
    }
    if (byNs.size === 0) this.#ready.delete(top);
    this.#ids.delete(ev.id);
    return ev;
  }

  /** Ready evaluations in dequeue order without fairness (for the API). */
  ready(): Evaluation[] {
    const out: [number, number, Evaluation][] = [];
    for (const [prio, byNs] of this.#ready) for (const fifo of byNs.values()) for (const [seq, ev] of fifo.items.slice(fifo.head)) out.push([prio, seq, ev]);
    return out.sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, , ev]) => ev);
  }

  blocked(): Evaluation[] {
    return [...this.#blocked.values()].map((p) => p.ev);
  }

  /**
   * Park an evaluation whose plan was blocked. `needs` is the per-allocation
   * ask of each failed group (Plan.failedGroups[].resources). When a change
   * newer than `snapshotIndex` already fits, the evaluation goes straight back
   * to the ready queue and block() returns false.
   */
  block(ev: Evaluation, needs: readonly Resources[], snapshotIndex?: number): boolean {
    const parked: Parked = { ev, needs: needs.map((n) => ({ ...n })) };
    if (snapshotIndex !== undefined && this.#recent.some((c) => (c.index ?? -1) > snapshotIndex && fitsAny(parked, c.free))) {
      this.enqueue(ev);
      return false;
    }
    const k = key(ev.namespace, ev.jobId);
    this.#blocked.delete(k); // re-insert so Map order stays oldest-first
    this.#blocked.set(k, parked);
    if (this.#blocked.size > QUEUE_LIMITS.blocked) this.#blocked.delete(this.#blocked.keys().next().value!);
    return true;
  }

  /** Report a capacity change; returns the evaluations released to the ready queue, oldest first. */
  capacityChanged(change: CapacityChange): Evaluation[] {
    this.#recent.push({ ...change, free: { ...change.free } });
    if (this.#recent.length > QUEUE_LIMITS.recentChanges) this.#recent.shift();
    const released: Evaluation[] = [];
    for (const [k, parked] of this.#blocked) {
      if (!fitsAny(parked, change.free)) continue;
      this.#blocked.delete(k);
      released.push(parked.ev);
    }
    for (const ev of released) this.enqueue(ev);
    return released;
  }

  /** Drop a job's parked evaluation (job stopped or deregistered). */
  unblockJob(namespace: string, jobId: string): Evaluation | undefined {
    const k = key(namespace, jobId);
    const parked = this.#blocked.get(k);
    this.#blocked.delete(k);
    return parked?.ev;
  }
}

function fitsAny(parked: Parked, free: Resources): boolean {
  if (parked.needs.length === 0) return true; // nothing specific to wait for: any change may help
  return parked.needs.some((n) => n.cpuMhz <= free.cpuMhz && n.memoryMb <= free.memoryMb);
}
