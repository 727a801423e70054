// Turning a flat event list into operations: pair each completion with its
// process's pending invoke, drop failed operations (they did not happen),
// give unknown outcomes an infinite return time (thesis of Jepsen/Knossos:
// an indeterminate op may linearize anywhere after its invocation).
import type { HistoryEvent, Operation } from "./types.ts";

export function parseLines(text: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  text.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (t === "") return;
    try {
      out.push(JSON.parse(t) as HistoryEvent);
    } catch (e) {
      throw new Error(`line ${i + 1}: not JSON: ${(e as Error).message}`);
    }
  });
  return out;
}

export function toOperations(events: readonly HistoryEvent[]): Operation[] {
  const pending = new Map<number, Operation>();
  const ops: Operation[] = [];
  let nextId = 0;
  events.forEach((ev, i) => {
    const where = `event ${i + 1} (process ${ev.process})`;
    if (ev.type === "invoke") {
      if (pending.has(ev.process)) throw new Error(`${where}: invoke while another operation is pending`);
      const op: Operation = {
        id: nextId++,
        process: ev.process,
        f: ev.f,
        key: String(ev.key),
        input: ev.f === "read" ? undefined : ev.value,
        output: undefined,
        call: ev.time,
        ret: Infinity,
        status: "info",
      };
      pending.set(ev.process, op);
      return;
    }
    const op = pending.get(ev.process);
    if (!op) throw new Error(`${where}: ${ev.type} without a pending invoke`);
    if (op.f !== ev.f || op.key !== String(ev.key)) throw new Error(`${where}: completion does not match the invoke (${op.f} ${op.key})`);
    pending.delete(ev.process);
    if (ev.type === "fail") return; // never took effect
    if (ev.type === "ok") {
      op.ret = ev.time;
      op.status = "ok";
      if (op.f === "read") op.output = ev.value ?? null;
    }
    // "info": leave ret = Infinity, status "info".
    if (op.f === "read" && op.status === "info") return; // an unknown read constrains nothing
    ops.push(op);
  });
  for (const op of pending.values()) if (op.f !== "read") ops.push(op); // never completed: unknown
  return ops.sort((a, b) => a.id - b.id);
}

export function byKey(ops: readonly Operation[]): Map<string, Operation[]> {
  const m = new Map<string, Operation[]>();
  for (const op of ops) {
    let list = m.get(op.key);
    if (!list) m.set(op.key, (list = []));
    list.push(op);
  }
  return m;
}
