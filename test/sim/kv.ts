// The simulator's application: a key/value map driven by committed entries.
// Commands are JSON: {"id", "op": "put", "key", "value"} or
// {"id", "op": "cas", "key", "expected", "value"}. A running hash over every
// applied entry lets the checker compare replicas (and snapshots) cheaply.
import type { Entry, Snapshot } from "../../core/raft/index.ts";

export interface KvCommand {
  id: number;
  op: "put" | "cas";
  key: string;
  value: number;
  expected?: number | null;
}

export interface ApplyResult {
  id: number;
  ok: boolean;
}

interface KvSnapshotData {
  kv: [string, number][];
  hash: number;
}

export class KvApp {
  data = new Map<string, number>();
  appliedIndex = 0;
  hash = 0;

  static fromSnapshot(snap: Snapshot | undefined): KvApp {
    const app = new KvApp();
    if (snap) app.restore(snap);
    return app;
  }

  get(key: string): number | null {
    return this.data.get(key) ?? null;
  }

  /** Applies one committed entry; returns the command's outcome for normal entries. */
  apply(e: Entry): ApplyResult | undefined {
    if (e.index !== this.appliedIndex + 1) throw new Error(`kv: applying ${e.index} after ${this.appliedIndex}`);
    this.appliedIndex = e.index;
    this.hash = mix(this.hash, e.index, e.term, e.data);
    if (e.type !== "normal") return undefined;
    const cmd = JSON.parse(e.data) as KvCommand;
    if (cmd.op === "put") {
      this.data.set(cmd.key, cmd.value);
      return { id: cmd.id, ok: true };
    }
    if (this.get(cmd.key) !== (cmd.expected ?? null)) return { id: cmd.id, ok: false };
    this.data.set(cmd.key, cmd.value);
    return { id: cmd.id, ok: true };
  }

  snapshotData(): string {
    const d: KvSnapshotData = { kv: [...this.data.entries()].sort(), hash: this.hash };
    return JSON.stringify(d);
  }

  restore(snap: Snapshot): void {
    const d = JSON.parse(snap.data) as KvSnapshotData;
    this.data = new Map(d.kv);
    this.hash = d.hash;
    this.appliedIndex = snap.index;
  }
}

/** FNV-1a style mixing; collisions are irrelevant at this scale. */
function mix(h: number, index: number, term: number, data: string): number {
  let x = (h ^ index) >>> 0;
  x = Math.imul(x ^ term, 16777619) >>> 0;
  for (let i = 0; i < data.length; i++) x = Math.imul(x ^ data.charCodeAt(i), 16777619) >>> 0;
  return x;
}
