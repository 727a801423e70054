// checkHistory: split a history by key (a map of independent registers is
// linearizable iff each register is, Herlihy & Wing's locality), search each
// key with WGL, and explain the first failure.
import { byKey, toOperations } from "./history.ts";
import { pruneUnobservedInfo } from "./prune.ts";
import { registerModel } from "./register.ts";
import type { CheckResult, Counterexample, HistoryEvent, KeyResult, Operation } from "./types.ts";
import { searchLinearization } from "./wgl.ts";

export interface CheckOptions {
  /** Search steps allowed per key before giving up with verdict "timeout". Default 5,000,000. */
  maxStepsPerKey?: number;
}

export function checkHistory(events: readonly HistoryEvent[], opts: CheckOptions = {}): CheckResult {
  const maxSteps = opts.maxStepsPerKey ?? 5_000_000;
  const perKey: KeyResult[] = [];
  let counterexample: Counterexample | undefined;
  const groups = [...byKey(toOperations(events)).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, all] of groups) {
    const ops = pruneUnobservedInfo(all);
    const res = searchLinearization(ops, registerModel, maxSteps);
    const ok = res.verdict === "linearizable";
    perKey.push({ key, ok, verdict: res.verdict, ops: all.length, steps: res.steps });
    if (!ok && !counterexample) counterexample = explain(key, ops, res.bestPrefix, res.bestState);
  }
  const result: CheckResult = { ok: perKey.every((k) => k.ok), perKey };
  if (counterexample) result.counterexample = counterexample;
  return result;
}

/**
 * From the longest linearizable prefix: the operation that had to be placed
 * next (the earliest return among those left) and the ones concurrent with it.
 */
function explain(key: string, ops: Operation[], prefix: Operation[], state: unknown): Counterexample {
  const done = new Set(prefix);
  const left = ops.filter((op) => !done.has(op));
  let blocking: Operation | undefined;
  for (const op of left) if (!blocking || op.ret < blocking.ret) blocking = op;
  const candidates = blocking ? left.filter((op) => op.call <= blocking!.ret && op !== blocking) : [];
  return {
    key,
    prefixTail: prefix.slice(-10),
    prefixLength: prefix.length,
    stateAfterPrefix: state,
    blocking,
    candidates: candidates.slice(0, 20),
  };
}
