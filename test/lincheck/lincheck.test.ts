// Hand-made histories with known verdicts, then generated ones for scale.
import { describe, expect, test } from "bun:test";
import { checkHistory } from "./check.ts";
import { generateHistory } from "./gen.ts";
import type { HistoryEvent } from "./types.ts";

type Ev = [process: number, type: HistoryEvent["type"], f: HistoryEvent["f"], value: unknown, time: number];
const h = (...evs: Ev[]): HistoryEvent[] => evs.map(([process, type, f, value, time]) => ({ process, type, f, key: "k", value, time }));
const ok = (evs: HistoryEvent[]) => checkHistory(evs).ok;

describe("linearizable histories", () => {
  test("sequential write then read", () => {
    expect(ok(h([0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1], [1, "invoke", "read", null, 2], [1, "ok", "read", 1, 3]))).toBe(true);
  });

  test("a read concurrent with a write may see either value", () => {
    const base: Ev[] = [[0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1], [0, "invoke", "write", 2, 2], [1, "invoke", "read", null, 3]];
    expect(ok(h(...base, [1, "ok", "read", 1, 4], [0, "ok", "write", 2, 5]))).toBe(true);
    expect(ok(h(...base, [1, "ok", "read", 2, 4], [0, "ok", "write", 2, 5]))).toBe(true);
  });

  test("an empty register reads null", () => {
    expect(ok(h([0, "invoke", "read", null, 0], [0, "ok", "read", null, 1]))).toBe(true);
  });

  test("a failed cas constrains nothing", () => {
    expect(ok(h([0, "invoke", "cas", [null, 1], 0], [0, "fail", "cas", [null, 1], 1], [1, "invoke", "read", null, 2], [1, "ok", "read", null, 3]))).toBe(true);
  });

  test("an info write that took effect", () => {
    expect(ok(h([0, "invoke", "write", 1, 0], [0, "info", "write", 1, 1], [1, "invoke", "read", null, 5], [1, "ok", "read", 1, 6]))).toBe(true);
  });

  test("an info write that did not take effect", () => {
    expect(ok(h([0, "invoke", "write", 1, 0], [0, "info", "write", 1, 1], [1, "invoke", "read", null, 5], [1, "ok", "read", null, 6]))).toBe(true);
  });

  test("an info write may take effect long after its invoke (it never returned)", () => {
    const evs = h([0, "invoke", "write", 1, 0], [1, "invoke", "read", null, 5], [1, "ok", "read", null, 6], [1, "invoke", "read", null, 7], [1, "ok", "read", 1, 8]);
    expect(ok(evs)).toBe(true); // pending invoke without completion = info
  });

  test("an info cas observed later", () => {
    expect(ok(h([0, "invoke", "cas", [null, 5], 0], [0, "info", "cas", [null, 5], 1], [1, "invoke", "read", null, 2], [1, "ok", "read", 5, 3]))).toBe(true);
  });

  test("cas chain", () => {
    expect(
      ok(h([0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1], [0, "invoke", "cas", [1, 2], 2], [0, "ok", "cas", [1, 2], 3], [1, "invoke", "read", null, 4], [1, "ok", "read", 2, 5])),
    ).toBe(true);
  });
});

describe("non-linearizable histories", () => {
  test("stale read: a read after a completed write returns the older value", () => {
    const res = checkHistory(h([0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1], [0, "invoke", "write", 2, 2], [0, "ok", "write", 2, 3], [1, "invoke", "read", null, 4], [1, "ok", "read", 1, 5]));
    expect(res.ok).toBe(false);
    expect(res.counterexample?.key).toBe("k");
    expect(res.counterexample?.blocking?.f).toBe("read");
  });

  test("lost write: an acknowledged write is not visible", () => {
    expect(ok(h([0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1], [1, "invoke", "read", null, 2], [1, "ok", "read", null, 3]))).toBe(false);
  });

  test("two cas from the same expected value both succeed", () => {
    expect(ok(h([0, "invoke", "cas", [null, 1], 0], [1, "invoke", "cas", [null, 2], 0], [0, "ok", "cas", [null, 1], 5], [1, "ok", "cas", [null, 2], 5]))).toBe(false);
  });

  test("a cas succeeds against a value the register never held", () => {
    expect(ok(h([0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1], [0, "invoke", "cas", [7, 2], 2], [0, "ok", "cas", [7, 2], 3]))).toBe(false);
  });

  test("a failed write becomes visible", () => {
    expect(ok(h([0, "invoke", "write", 1, 0], [0, "fail", "write", 1, 1], [1, "invoke", "read", null, 2], [1, "ok", "read", 1, 3]))).toBe(false);
  });

  test("an info write observed, then un-observed", () => {
    const evs = h([0, "invoke", "write", 1, 0], [0, "info", "write", 1, 1], [1, "invoke", "read", null, 5], [1, "ok", "read", 1, 6], [1, "invoke", "read", null, 7], [1, "ok", "read", null, 8]);
    expect(ok(evs)).toBe(false);
  });

  test("values read out of order by two sequential readers", () => {
    const evs = h(
      [0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1],
      [0, "invoke", "write", 2, 2], // concurrent with both reads
      [1, "invoke", "read", null, 3], [1, "ok", "read", 2, 4],
      [2, "invoke", "read", null, 5], [2, "ok", "read", 1, 6],
      [0, "ok", "write", 2, 9],
    );
    expect(ok(evs)).toBe(false);
  });

  test("keys are checked independently; the report names the bad key", () => {
    const good = h([0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1]);
    const bad = h([1, "invoke", "read", null, 2], [1, "ok", "read", 9, 3]).map((e) => ({ ...e, key: "bad" }));
    const res = checkHistory([...good, ...bad]);
    expect(res.ok).toBe(false);
    expect(res.perKey.map((k) => [k.key, k.ok])).toEqual([["bad", false], ["k", true]]);
    expect(res.counterexample?.key).toBe("bad");
  });

  test("malformed histories are reported", () => {
    expect(() => checkHistory(h([0, "ok", "read", 1, 0]))).toThrow(/without a pending invoke/);
    expect(() => checkHistory(h([0, "invoke", "read", null, 0], [0, "invoke", "read", null, 1]))).toThrow(/pending/);
  });
});

describe("generated histories", () => {
  test("linearizable by construction, with info operations", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const res = checkHistory(generateHistory({ seed, keys: ["a", "b"], opsPerKey: 200, processes: 5, infoRate: 0.05 }));
      if (!res.ok) throw new Error(`seed ${seed}: ${JSON.stringify(res.counterexample)}`);
    }
  });

  test("corrupting one read is detected", () => {
    let detected = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const evs = generateHistory({ seed, keys: ["a"], opsPerKey: 200, processes: 5 });
      const reads = evs.filter((e) => e.type === "ok" && e.f === "read" && e.value !== null);
      const victim = reads[Math.floor(reads.length / 2)];
      if (!victim) continue;
      victim.value = 987654; // never written
      expect(checkHistory(evs).ok).toBe(false);
      detected++;
    }
    expect(detected).toBeGreaterThan(10);
  });

  test("many unknown writes nobody observed are pruned, keeping the search small", () => {
    const evs: HistoryEvent[] = [];
    let t = 0;
    // 300 writes from crashed clients (never completed) interleaved with a sequential writer/reader.
    for (let i = 0; i < 300; i++) {
      evs.push({ process: 1000 + i, type: "invoke", f: "write", key: "k", value: 100_000 + i, time: t++ });
      evs.push({ process: 0, type: "invoke", f: "write", key: "k", value: i, time: t++ });
      evs.push({ process: 0, type: "ok", f: "write", key: "k", value: i, time: t++ });
      evs.push({ process: 1, type: "invoke", f: "read", key: "k", value: null, time: t++ });
      evs.push({ process: 1, type: "ok", f: "read", key: "k", value: i, time: t++ });
    }
    const res = checkHistory(evs, { maxStepsPerKey: 100_000 });
    expect(res.ok).toBe(true);
    expect(res.perKey[0]!.ops).toBe(900);
  });

  test("with repeated values nothing is pruned and info semantics still hold", () => {
    const evs = h(
      [0, "invoke", "write", 1, 0], [0, "ok", "write", 1, 1],
      [0, "invoke", "write", 2, 2], [0, "ok", "write", 2, 3],
      [1, "invoke", "write", 1, 4], // unknown outcome, same value as the first write
      [2, "invoke", "read", null, 10], [2, "ok", "read", 1, 11],
    );
    expect(ok(evs)).toBe(true); // only if the unknown write happened
    expect(ok(evs.filter((e) => e.process !== 1))).toBe(false);
  });

  test("performance: a few thousand operations per key", () => {
    const evs = generateHistory({ seed: 42, keys: ["x", "y"], opsPerKey: 4000, processes: 10, infoRate: 0.01 });
    const t0 = performance.now();
    const res = checkHistory(evs);
    const ms = performance.now() - t0;
    expect(res.ok).toBe(true);
    expect(res.perKey.every((k) => k.ops > 3000)).toBe(true);
    console.log(`lincheck: ${res.perKey.map((k) => `${k.key}=${k.ops} ops/${k.steps} steps`).join(", ")} in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(20_000);
  });
});
