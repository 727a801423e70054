// Wing & Gong's linearizability search with Lowe's memoization, as in
// Porcupine (checkSingle): walk a list of call/return events; at a call, try
// to linearize that operation now (model step succeeds and the pair
// (linearized set, state) was never explored), else try the next call; at a
// return, the operation returning there was not linearized, so backtrack.
// The linearized set is a bitset hashed with Zobrist keys so each step costs
// O(1) to update, and the cache compares full bitsets on hash hits.
import type { Model, Operation } from "./types.ts";

interface Node {
  op: Operation | undefined; // undefined for the head sentinel
  isCall: boolean;
  match: Node | undefined; // call -> its return
  prev: Node | undefined;
  next: Node | undefined;
}

export interface SearchResult<S> {
  verdict: "linearizable" | "not-linearizable" | "timeout";
  steps: number;
  /** Longest linearizable prefix found (op order) and the state after it. */
  bestPrefix: Operation[];
  bestState: S;
}

function buildList(ops: readonly Operation[]): Node {
  const events: { time: number; isCall: boolean; node: Node }[] = [];
  for (const op of ops) {
    const ret: Node = { op, isCall: false, match: undefined, prev: undefined, next: undefined };
    const call: Node = { op, isCall: true, match: ret, prev: undefined, next: undefined };
    events.push({ time: op.call, isCall: true, node: call }, { time: op.ret, isCall: false, node: ret });
  }
  // At equal times calls come first: the operations are then concurrent, the
  // permissive reading of a tie.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.node.op!.id - b.node.op!.id : a.isCall ? -1 : 1));
  const head: Node = { op: undefined, isCall: false, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e.node;
    e.node.prev = prev;
    prev = e.node;
  }
  return head;
}

function lift(call: Node): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

/** Deterministic 32-bit Zobrist keys per operation index. */
function zobrist(n: number, salt: number): Uint32Array {
  const z = new Uint32Array(n);
  let x = (0x9e3779b9 ^ salt) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    z[i] = x;
  }
  return z;
}

export function searchLinearization<S>(ops: readonly Operation[], model: Model<S>, maxSteps: number): SearchResult<S> {
  // Bit positions are indexes into `ops`.
  const index = new Map<Operation, number>();
  ops.forEach((op, i) => index.set(op, i));
  const words = Math.ceil(ops.length / 32) || 1;
  const bits = new Uint32Array(words);
  const z1 = zobrist(ops.length, 1);
  const z2 = zobrist(ops.length, 2);
  let h1 = 0;
  let h2 = 0;
  const cache = new Map<string, Uint32Array[]>();
  const flip = (i: number) => {
    bits[i >> 5]! ^= 1 << (i & 31);
    h1 = (h1 ^ z1[i]!) >>> 0;
    h2 = (h2 ^ z2[i]!) >>> 0;
  };
  /** Adds (bits, state) to the cache; false when it was already there. */
  const remember = (state: S): boolean => {
    const key = `${h1}:${h2}:${model.key(state)}`;
    const seen = cache.get(key);
    if (seen) {
      for (const b of seen) if (b.every((w, i) => w === bits[i])) return false;
      seen.push(bits.slice());
    } else cache.set(key, [bits.slice()]);
    return true;
  };

  const head = buildList(ops);
  let state = model.init;
  const stack: { call: Node; state: S }[] = [];
  let best: Operation[] = [];
  let bestState = state;
  let steps = 0;
  let entry = head.next;
  while (head.next) {
    if (++steps > maxSteps) return { verdict: "timeout", steps, bestPrefix: best, bestState };
    const node = entry!;
    if (node.isCall) {
      const r = model.step(state, node.op!);
      if (r.ok) {
        const i = index.get(node.op!)!;
        flip(i);
        if (remember(r.state)) {
          stack.push({ call: node, state });
          state = r.state;
          lift(node);
          if (stack.length > best.length) {
            best = stack.map((s) => s.call.op!);
            bestState = state;
          }
          entry = head.next;
          continue;
        }
        flip(i);
      }
      entry = node.next;
    } else {
      // The operation returning here is not linearized yet: undo the last choice.
      const top = stack.pop();
      if (!top) return { verdict: "not-linearizable", steps, bestPrefix: best, bestState };
      state = top.state;
      flip(index.get(top.call.op!)!);
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { verdict: "linearizable", steps, bestPrefix: stack.map((s) => s.call.op!), bestState: state };
}
