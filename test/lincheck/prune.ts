// Pruning unknown-outcome operations nobody could have observed.
//
// An "info" write or cas has no return: it may be linearized at the very end
// of the history, where it changes nothing anyone saw. So when the value it
// would produce is never read (and never expected by a cas), dropping it
// keeps the verdict, and it removes the main source of blow-up in the WGL
// search (each pending info op multiplies the orders to try).
// The argument needs every produced value to be unique (and distinct from
// the initial null): then a dependent operation's precondition value has
// exactly one producer, which is never dropped. Otherwise nothing is pruned.
import type { Operation } from "./types.ts";

const valueKey = (v: unknown): string => JSON.stringify(v ?? null);

function produced(op: Operation): unknown {
  if (op.f === "write") return op.input;
  if (op.f === "cas") return (op.input as [unknown, unknown])[1];
  return undefined;
}

export function pruneUnobservedInfo(ops: Operation[]): Operation[] {
  const producedKeys = new Set<string>([valueKey(null)]);
  for (const op of ops) {
    if (op.f === "read") continue;
    const k = valueKey(produced(op));
    if (producedKeys.has(k)) return ops; // values not unique: keep everything
    producedKeys.add(k);
  }
  const observed = new Set<string>();
  for (const op of ops) {
    if (op.f === "read") observed.add(valueKey(op.output));
    else if (op.f === "cas") observed.add(valueKey((op.input as [unknown, unknown])[0]));
  }
  return ops.filter((op) => op.status !== "info" || op.f === "read" || observed.has(valueKey(produced(op))));
}
