// CORRAL_TRACE_COMMIT's recorder (core/cluster/raft/commit-trace.ts): fed the
// hooks a leader and a follower call for each write, it reports every step of
// LEADER_STEPS / FOLLOWER_STEPS and writes its summary file every 50 writes.
// Off (no variable), the process-wide recorder does not exist.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CommitTrace, commitTrace, FOLLOWER_STEPS, LEADER_STEPS } from "../../core/cluster/raft/commit-trace.ts";
import type { Entry, Message, Ready } from "../../core/raft/index.ts";
import { tempDir } from "../helpers/proc.ts";

const entry = (index: number): Entry => ({ index, term: 2, type: "normal", data: "{}" });
const ready = (p: Partial<Ready>): Ready => ({ entries: [], messages: [], sendBeforePersist: 0, committedEntries: [], readStates: [], ...p });
const base = { term: 2, from: "a", to: "b" };

function driverStages(t: CommitTrace, rd: Ready): void {
  for (const s of ["ready", "sent-early", "saved", "applied", "durable", "done"] as const) t.stage(s, rd);
}

describe("commit trace", () => {
  test("off unless CORRAL_TRACE_COMMIT is set", () => {
    expect(commitTrace !== undefined).toBe(!!process.env.CORRAL_TRACE_COMMIT);
  });

  test("a leader's writes: every step measured, the summary written every 50 writes", () => {
    const dir = tempDir();
    const file = join(dir, "leader.json");
    const t = new CommitTrace(file);
    for (let i = 10; i < 60; i++) {
      expect(existsSync(file)).toBe(false);
      t.httpReceived();
      t.proposed(i);
      driverStages(t, ready({ entries: [entry(i)], sendBeforePersist: 2 }));
      t.stepped([{ ...base, from: "b", to: "a", type: "AppendResp", reject: false, index: i, conflictTerm: 0, conflictIndex: 0 } as Message]);
      driverStages(t, ready({ committedEntries: [entry(i)] }));
      t.settled(i);
      t.responded(i);
    }
    const s = JSON.parse(readFileSync(file, "utf8")) as { leader: { writes: number; step_us_median: Record<string, number> } };
    expect(s.leader.writes).toBe(50);
    expect(Object.keys(s.leader.step_us_median).sort()).toEqual(LEADER_STEPS.slice(1).sort());
  });

  test("a follower's writes: append, ack, commit, apply", () => {
    const t = new CommitTrace(join("/nonexistent-dir-for-test", "f.json"));
    for (let i = 10; i < 20; i++) {
      t.stepped([{ ...base, type: "Append", prevIndex: i - 1, prevTerm: 2, entries: [entry(i)], commit: i - 1 } as Message]);
      driverStages(t, ready({ entries: [entry(i)], messages: [{ ...base, from: "b", to: "a", type: "AppendResp", reject: false, index: i, conflictTerm: 0, conflictIndex: 0 } as Message] }));
      t.stepped([{ ...base, type: "Append", prevIndex: i, prevTerm: 2, entries: [], commit: i } as Message]);
      driverStages(t, ready({ committedEntries: [entry(i)] }));
    }
    const s = t.summary() as { follower: { writes: number; step_us_median: Record<string, number> }; leader?: unknown };
    expect(s.leader).toBeUndefined();
    expect(s.follower.writes).toBe(10);
    expect(Object.keys(s.follower.step_us_median).sort()).toEqual(FOLLOWER_STEPS.slice(1).sort());
  });
});
