// The sequential specification of one key: a register with read, write and
// compare-and-set, initially null (absent).
import type { Model, Operation, Value } from "./types.ts";

const same = (a: unknown, b: unknown): boolean =>
  a === b || (a !== null && b !== null && typeof a === "object" && JSON.stringify(a) === JSON.stringify(b));

export const registerModel: Model<Value> = {
  init: null,
  step(state, op: Operation) {
    switch (op.f) {
      case "read":
        return { ok: same(state, op.output ?? null), state };
      case "write":
        return { ok: true, state: (op.input ?? null) as Value };
      case "cas": {
        const [expected, next] = op.input as [Value, Value];
        const matches = same(state, expected ?? null);
        if (op.status === "ok") return matches ? { ok: true, state: next ?? null } : { ok: false, state };
        // Unknown outcome: if it could not apply, it is a no-op.
        return { ok: true, state: matches ? (next ?? null) : state };
      }
    }
  },
  key: (state) => (typeof state === "string" ? `s${state}` : JSON.stringify(state)),
};
