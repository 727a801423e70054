import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { durationMs, formatDuration, parseDuration, parseSize, sizeBytes } from "../../core/config/duration.ts";
import { editDistance, suggest } from "../../core/config/introspect.ts";

describe("parseDuration", () => {
  test("Go-style strings", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1h2m3s4ms")).toBe(3_723_004);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("1500us")).toBe(1.5);
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("-1s")).toBe(-1000);
  });

  test("refuses bare numbers and junk", () => {
    expect(() => parseDuration("15")).toThrow(/no unit/);
    expect(() => parseDuration("")).toThrow(/empty/);
    expect(() => parseDuration("10 s")).toThrow(/not a duration/);
    expect(() => parseDuration("10sec")).toThrow(/not a duration/);
    expect(() => parseDuration("s")).toThrow(/not a duration/);
  });

  test("formatDuration round-trips", () => {
    for (const ms of [100, 1000, 90_000, 7_200_000, 1500, 3_723_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
    expect(formatDuration(90_000)).toBe("1m30s");
  });

  test("durationMs schema", () => {
    const s = durationMs();
    expect(s.parse("2s")).toBe(2000);
    expect(s.safeParse(2).success).toBe(false);
    expect(s.safeParse("0s").success).toBe(false);
    expect(durationMs({ min: 0 }).parse("0s")).toBe(0);
    expect(durationMs({ max: 1000 }).safeParse("2s").success).toBe(false);
    expect(z.object({ t: durationMs().default(1000) }).parse({})).toEqual({ t: 1000 });
    expect(z.object({ t: durationMs().prefault("3s") }).parse({})).toEqual({ t: 3000 });
  });
});

describe("sizes", () => {
  test("parseSize", () => {
    expect(parseSize("100")).toBe(100);
    expect(parseSize("1KiB")).toBe(1024);
    expect(parseSize("1MiB")).toBe(1_048_576);
    expect(parseSize("1MB")).toBe(1_000_000);
    expect(parseSize("2 gib")).toBe(2 * 1024 ** 3);
    expect(() => parseSize("1XB")).toThrow(/unknown size unit/);
    expect(() => parseSize("lots")).toThrow(/not a size/);
  });

  test("sizeBytes schema", () => {
    expect(sizeBytes().parse(10)).toBe(10);
    expect(sizeBytes().parse("1KiB")).toBe(1024);
    expect(sizeBytes().safeParse(1.5).success).toBe(false);
    expect(sizeBytes().safeParse(0).success).toBe(false);
  });
});

describe("suggestions", () => {
  test("edit distance", () => {
    expect(editDistance("bind", "bnid")).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  test("suggest within distance 2", () => {
    expect(suggest("bnid", ["bind", "name"])).toBe("bind");
    expect(suggest("http-port", ["http_port"])).toBe("http_port");
    expect(suggest("zzzzzz", ["bind"])).toBeUndefined();
  });
});
