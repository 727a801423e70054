// The sockets engine's per-try timeouts (fast/upstream.ts Deadlines): one
// ticking interval over the attempts waiting for a head, kept in an array
// with swap-removal. Every attempt past its deadline is told once, none
// before, whatever leaves the list while it is being walked.
import { describe, expect, test } from "bun:test";
import { Deadlines, type Timed } from "../../plugins/invoke/fast/upstream.ts";

function attempt(d: Deadlines, deadline: number, log: string[], name: string): Timed {
  const a: Timed = {
    deadline,
    timedSlot: -1,
    finish(outcome) {
      log.push(`${name}:${outcome}`);
      d.delete(a); // as RawTransport.finish does
    },
  };
  return a;
}

describe("per-try deadlines", () => {
  test("past ones time out once, future and removed ones never; the list survives removals while walked", async () => {
    const d = new Deadlines();
    const log: string[] = [];
    const now = performance.now();
    const due = Array.from({ length: 20 }, (_, i) => attempt(d, now - 1 - i, log, `due${i}`));
    const later = Array.from({ length: 20 }, (_, i) => attempt(d, now + 60_000, log, `later${i}`));
    // Interleaved, so removals during a tick move entries of both kinds.
    for (let i = 0; i < 20; i++) {
      d.add(due[i]!);
      d.add(later[i]!);
    }
    d.add(due[0]!); // added twice: still one entry
    d.delete(due[5]!); // answered before its deadline
    d.delete(due[5]!); // and a second delete is harmless
    d.delete(later[19]!);
    await Bun.sleep(80);
    d.stop();
    const expected = due.map((_, i) => `due${i}:timeout`).filter((x) => x !== "due5:timeout");
    expect([...log].sort()).toEqual(expected.sort());
    expect(later.slice(0, 19).every((a) => a.timedSlot >= 0)).toBe(true);
    expect(later[19]!.timedSlot).toBe(-1);
    expect(due.every((a) => a.timedSlot === -1)).toBe(true);
    // What is left is exactly the 19 future attempts, each at the slot it believes it has.
    const left = (d as unknown as { waiting: Timed[] }).waiting;
    expect(left.length).toBe(19);
    left.forEach((a, i) => expect(a.timedSlot).toBe(i));
  });
});
