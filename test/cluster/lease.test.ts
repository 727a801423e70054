// The leader lease of default-mode reads (core/cluster/raft/lease.ts): pure,
// judged on monotonic times passed in.
import { describe, expect, test } from "bun:test";
import { LeaderLease, leaseDurationMs, LEASE_DRIFT_FRACTION } from "../../core/cluster/raft/lease.ts";

describe("leaseDurationMs", () => {
  test("(electionTicks - 1) tick intervals minus the drift allowance", () => {
    expect(leaseDurationMs(10, 100)).toBeCloseTo(9 * 100 * (1 - LEASE_DRIFT_FRACTION));
    expect(leaseDurationMs(10, 50, 0.2)).toBeCloseTo(360);
    // Always shorter than the followers' shortest election timeout.
    for (const [ticks, ms] of [[2, 500], [10, 100], [20, 50]] as const) expect(leaseDurationMs(ticks, ms)).toBeLessThan(ticks * ms);
    expect(leaseDurationMs(1, 100)).toBe(0);
  });
});

describe("LeaderLease", () => {
  test("holds from a confirmed round's send time for its duration, in that term only", () => {
    const l = new LeaderLease(800);
    expect(l.holds(3, 1000)).toBeUndefined(); // never confirmed
    l.confirmed(3, 1000, 42);
    expect(l.holds(3, 1000)).toBe(42);
    expect(l.holds(3, 1799)).toBe(42);
    expect(l.holds(3, 1800)).toBeUndefined(); // expired
    expect(l.holds(4, 1100)).toBeUndefined(); // another term
    expect(l.holds(3, 999)).toBeUndefined(); // before the round was sent: never
  });

  test("a paused leader resumes with an expired lease (monotonic time kept counting)", () => {
    const l = new LeaderLease(900);
    l.confirmed(7, 10_000, 5);
    expect(l.holds(7, 10_500)).toBe(5);
    // SIGSTOP for 3 s: no ticks ran, but performance.now() moved on.
    expect(l.holds(7, 13_500)).toBeUndefined();
    expect(l.wantsRenewal(13_500)).toBe(true);
  });

  test("a newer round extends it; an older one answered late does not shorten or move it back", () => {
    const l = new LeaderLease(800);
    l.confirmed(2, 1000, 10);
    l.confirmed(2, 1500, 12);
    expect(l.holds(2, 2200)).toBe(12);
    l.confirmed(2, 1200, 11); // an earlier round answered after a later one
    expect(l.holds(2, 2200)).toBe(12);
    expect(l.holds(2, 2300)).toBeUndefined();
  });

  test("a new term starts over, even from an older send time", () => {
    const l = new LeaderLease(800);
    l.confirmed(2, 5000, 10);
    l.confirmed(3, 4000, 20);
    expect(l.holds(3, 4500)).toBe(20);
    expect(l.holds(2, 4500)).toBeUndefined();
    l.confirmed(2, 4600, 30); // a round of an older term answered late changes nothing
    expect(l.holds(3, 4700)).toBe(20);
  });

  test("revoked for the rest of a term (leadership transfer), not for the next", () => {
    const l = new LeaderLease(800);
    l.confirmed(5, 1000, 1);
    l.revoke(5);
    expect(l.holds(5, 1100)).toBeUndefined();
    l.confirmed(5, 1200, 2);
    expect(l.holds(5, 1300)).toBeUndefined();
    l.confirmed(6, 1400, 3);
    expect(l.holds(6, 1500)).toBe(3);
  });

  test("asks for renewal past half its life", () => {
    const l = new LeaderLease(800);
    l.confirmed(1, 0, 1);
    expect(l.wantsRenewal(399)).toBe(false);
    expect(l.wantsRenewal(400)).toBe(true);
  });
});
