import { describe, expect, test } from "bun:test";
import { newOrder, nextInOrder } from "../../core/scheduler/order.ts";
import { seededRng } from "../../core/scheduler/rng.ts";
import { compareVersions, parseVersion, parseVersionRange } from "../../core/scheduler/version.ts";

describe("seeded randomness", () => {
  test("same seed, same sequence; different seed, different sequence", () => {
    const take = (seed: string) => { const r = seededRng(seed); return Array.from({ length: 5 }, () => r()); };
    expect(take("eval-1")).toEqual(take("eval-1"));
    expect(take("eval-1")).not.toEqual(take("eval-2"));
    expect(take("eval-1").every((x) => x >= 0 && x < 1)).toBe(true);
  });

  test("a node order visits every node once per pass, then repeats", () => {
    const o = newOrder(50);
    const rng = seededRng("x");
    const pass1 = Array.from({ length: 50 }, () => nextInOrder(o, rng));
    const pass2 = Array.from({ length: 50 }, () => nextInOrder(o, rng));
    expect([...pass1].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(pass2).toEqual(pass1);
    expect(pass1).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test("an order over a list yields its members", () => {
    const o = newOrder(3, Int32Array.from([7, 11, 13]));
    const rng = seededRng("y");
    expect([nextInOrder(o, rng), nextInOrder(o, rng), nextInOrder(o, rng)].sort((a, b) => a - b)).toEqual([7, 11, 13]);
  });
});

describe("versions", () => {
  const v = (s: string) => parseVersion(s)!;
  test("compare", () => {
    expect(compareVersions(v("1.2"), v("1.2.0"))).toBe(0);
    expect(compareVersions(v("v1.10"), v("1.9"))).toBeGreaterThan(0);
    expect(compareVersions(v("1.2.0-beta"), v("1.2.0"))).toBeLessThan(0);
    expect(compareVersions(v("1.2.0-beta.2"), v("1.2.0-beta.10"))).toBeLessThan(0);
    expect(compareVersions(v("1.2.0+build5"), v("1.2.0"))).toBe(0);
    expect(parseVersion("one")).toBeNull();
  });

  test("ranges", () => {
    const holds = (range: string, version: string) => {
      const r = parseVersionRange(range);
      if (!r.ok) throw new Error(r.error);
      return r.range(v(version));
    };
    expect(holds(">= 1.2, < 2", "1.9.9")).toBe(true);
    expect(holds(">= 1.2, < 2", "2.0")).toBe(false);
    expect(holds("~> 1.2", "1.9")).toBe(true);
    expect(holds("~> 1.2", "2.0")).toBe(false);
    expect(holds("~> 1.2.3", "1.2.9")).toBe(true);
    expect(holds("~> 1.2.3", "1.3.0")).toBe(false);
    expect(holds("1.4", "1.4.0")).toBe(true);
    expect(parseVersionRange(">= x").ok).toBe(false);
    expect(parseVersionRange("").ok).toBe(false);
  });
});
