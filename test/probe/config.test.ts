import { describe, expect, test } from "bun:test";
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS, parseDurationMs, probeConfigSchema } from "../../plugins/probe/config.ts";

describe("parseDurationMs (Go time.ParseDuration)", () => {
  test.each([
    ["1s", 1000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    [".5s", 500],
    ["2h", 7_200_000],
    ["1h2m3s4ms", 3_723_004],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["2000000ns", 2],
    ["0", 0],
    ["+1s", 1000],
  ])("%p = %p ms", (text, ms) => {
    expect(parseDurationMs(text)).toBeCloseTo(ms, 9);
  });

  test.each(["", "1", "s", "1x", "-1s", "1 s", "1s 2m", "1.2.3s", "ms"])("%p is not a duration", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe("probeConfigSchema", () => {
  test("defaults: interval 1s as 1000 ms, no overrides", () => {
    expect(probeConfigSchema.parse({})).toEqual({ interval: 1000 });
  });

  test("interval is parsed to ms; overrides pass through", () => {
    const c = probeConfigSchema.parse({
      interval: "250ms",
      cpu_total_mhz: 8000,
      memory_total_mb: 4096,
      reserved_cpu_mhz: 500,
      reserved_memory_mb: 256,
    });
    expect(c).toEqual({
      interval: 250,
      cpu_total_mhz: 8000,
      memory_total_mb: 4096,
      reserved_cpu_mhz: 500,
      reserved_memory_mb: 256,
    });
  });

  test("strict: an unknown key is rejected by name", () => {
    const r = probeConfigSchema.safeParse({ intervall: "1s" });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.code).toBe("unrecognized_keys");
    expect(r.error!.issues[0]!.message).toContain("intervall");
  });

  test("a bad duration says what was expected, at path interval", () => {
    const r = probeConfigSchema.safeParse({ interval: "1 second" });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["interval"]);
    expect(r.error!.issues[0]!.message).toContain("not a duration");
  });

  test("interval bounds", () => {
    expect(probeConfigSchema.safeParse({ interval: `${MIN_INTERVAL_MS - 1}ms` }).success).toBe(false);
    expect(probeConfigSchema.safeParse({ interval: `${MIN_INTERVAL_MS}ms` }).success).toBe(true);
    expect(probeConfigSchema.safeParse({ interval: `${MAX_INTERVAL_MS}ms` }).success).toBe(true);
    expect(probeConfigSchema.safeParse({ interval: "61m" }).success).toBe(false);
  });

  test("numbers are not durations; overrides must be whole and in range", () => {
    expect(probeConfigSchema.safeParse({ interval: 1000 }).success).toBe(false);
    expect(probeConfigSchema.safeParse({ cpu_total_mhz: 0 }).success).toBe(false);
    expect(probeConfigSchema.safeParse({ memory_total_mb: 1.5 }).success).toBe(false);
    expect(probeConfigSchema.safeParse({ reserved_cpu_mhz: -1 }).success).toBe(false);
    expect(probeConfigSchema.safeParse({ reserved_memory_mb: 0 }).success).toBe(true);
  });
});
