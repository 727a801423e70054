// Generates histories of a real (atomic) register with concurrent processes:
// each operation takes effect at a random instant inside its interval, so the
// history is linearizable by construction. Used by the tests and to measure
// the checker.
import { mulberry32 } from "../sim/prng.ts";
import type { HistoryEvent, Value } from "./types.ts";

export interface GenOptions {
  seed: number;
  keys: string[];
  opsPerKey: number;
  processes: number;
  /** Probability that a write/cas ends with "info" (taking effect or not, 50/50). */
  infoRate?: number;
}

interface Planned {
  process: number;
  key: string;
  f: "read" | "write" | "cas";
  call: number;
  ret: number;
  at: number;
  input: unknown;
  effect: boolean;
  info: boolean;
}

export function generateHistory(o: GenOptions): HistoryEvent[] {
  const rng = mulberry32(o.seed);
  const planned: Planned[] = [];
  const clock = new Array<number>(o.processes).fill(0);
  const total = o.opsPerKey * o.keys.length;
  let nextValue = 1;
  for (let n = 0; n < total; n++) {
    const p = rng.int(0, o.processes - 1);
    const call = clock[p]! + rng.int(1, 20);
    const ret = call + rng.int(1, 60);
    clock[p] = ret;
    const f = rng.pick(["read", "write", "write", "cas"] as const);
    const info = f !== "read" && rng.chance(o.infoRate ?? 0);
    // Like a client that timed out: its next operation starts well after.
    if (info) clock[p] = ret + 1000;
    planned.push({ process: p, key: rng.pick(o.keys), f, call, ret, at: call + rng.next() * (ret - call), input: undefined, effect: !info || rng.chance(0.5), info });
  }
  // Decide outcomes in linearization order.
  const state = new Map<string, Value>();
  const outcome = new Map<Planned, { type: HistoryEvent["type"]; value: unknown }>();
  for (const op of [...planned].sort((a, b) => a.at - b.at)) {
    const cur = state.get(op.key) ?? null;
    if (op.f === "read") outcome.set(op, { type: "ok", value: cur });
    else if (op.f === "write") {
      op.input = nextValue++;
      if (op.effect) state.set(op.key, op.input as number);
      outcome.set(op, { type: op.info ? "info" : "ok", value: op.input });
    } else {
      const expected = rng.chance(0.7) ? cur : rng.int(1, nextValue);
      op.input = [expected, nextValue++];
      const applies = op.effect && expected === cur;
      if (applies) state.set(op.key, (op.input as [Value, Value])[1]);
      outcome.set(op, { type: op.info ? "info" : applies ? "ok" : "fail", value: op.input });
    }
  }
  const events: HistoryEvent[] = [];
  for (const op of planned) {
    const out = outcome.get(op)!;
    events.push({ process: op.process, type: "invoke", f: op.f, key: op.key, value: op.f === "read" ? null : op.input, time: op.call });
    events.push({ process: op.process, type: out.type, f: op.f, key: op.key, value: out.value, time: op.ret });
  }
  // Stable sort by time; a process's own events are already in order.
  return events.map((e, i) => [e, i] as const).sort((a, b) => a[0].time - b[0].time || a[1] - b[1]).map(([e]) => e);
}
