// History format (Jepsen / Porcupine style), one JSON object per line:
//   {"process":N,"type":"invoke"|"ok"|"fail"|"info","f":"read"|"write"|"cas",
//    "key":"k","value":...,"time":ns}
// invoke: write carries the value to write, cas [expected, new], read null.
// ok:     a read carries the value read (null = absent).
// fail:   the operation certainly did not take effect.
// info:   unknown outcome; it may take effect at any time until the end of
//         the history (as may an invoke that never completes).

export type Value = string | number | boolean | null;
export type Fn = "read" | "write" | "cas";

export interface HistoryEvent {
  process: number;
  type: "invoke" | "ok" | "fail" | "info";
  f: Fn;
  key: string;
  value?: unknown;
  time: number;
}

/** One invoke paired with its completion. */
export interface Operation {
  id: number;
  process: number;
  f: Fn;
  key: string;
  /** write: the value; cas: [expected, new]; read: undefined. */
  input: unknown;
  /** read: the value read; otherwise undefined. */
  output: unknown;
  call: number;
  /** Infinity when the outcome is unknown. */
  ret: number;
  /** "info": may or may not have taken effect. */
  status: "ok" | "info";
}

export interface Model<S> {
  init: S;
  /** Whether `op` can take effect in `state`, and the state after it. */
  step(state: S, op: Operation): { ok: boolean; state: S };
  /** A string identifying the state, for the memo cache. */
  key(state: S): string;
}

export type KeyVerdict = "linearizable" | "not-linearizable" | "timeout";

export interface Counterexample {
  key: string;
  /** The longest prefix that could be linearized (last operations of it). */
  prefixTail: Operation[];
  prefixLength: number;
  /** Register value after that prefix. */
  stateAfterPrefix: unknown;
  /** The pending operation that returned first but could not be placed. */
  blocking: Operation | undefined;
  /** Operations that were candidates at that point. */
  candidates: Operation[];
}

export interface KeyResult {
  key: string;
  ok: boolean;
  verdict: KeyVerdict;
  ops: number;
  /** Search steps taken (for performance reporting). */
  steps: number;
}

export interface CheckResult {
  ok: boolean;
  perKey: KeyResult[];
  counterexample?: Counterexample;
}
