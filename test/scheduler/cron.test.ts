// The cron parser and next-time function of periodic jobs (core/scheduler/cron.ts).
import { describe, expect, test } from "bun:test";
import { nextCronTime, nextLaunch, parseCron } from "../../core/scheduler/cron.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function next(expr: string, after: string, zone = "UTC"): string | null {
  const r = parseCron(expr);
  if (!r.ok) throw new Error(r.error);
  return iso(nextCronTime(r.cron, at(after), zone));
}

describe("parseCron", () => {
  test("5, 6 and 7 fields as Nomad's cronexpr reads them", () => {
    expect(next("*/15 * * * *", "2026-03-01T10:07:30Z")).toBe("2026-03-01T10:15:00.000Z");
    // 6 fields: the sixth is the year, not seconds
    expect(next("0 12 * * * 2027", "2026-03-01T10:07:30Z")).toBe("2027-01-01T12:00:00.000Z");
    // 7 fields: seconds first
    expect(next("*/5 * * * * * *", "2026-03-01T10:07:31Z")).toBe("2026-03-01T10:07:35.000Z");
    expect(next("30 0 9 * * * *", "2026-03-01T10:00:00Z")).toBe("2026-03-02T09:00:30.000Z");
  });

  test("names, ranges, lists, steps and shortcuts", () => {
    expect(next("0 9 * JAN-MAR MON-FRI", "2026-03-06T09:00:00Z")).toBe("2026-03-09T09:00:00.000Z"); // Fri → Mon
    expect(next("0 0 1,15 * *", "2026-03-02T00:00:00Z")).toBe("2026-03-15T00:00:00.000Z");
    expect(next("0 8-18/5 * * *", "2026-03-02T13:01:00Z")).toBe("2026-03-02T18:00:00.000Z");
    expect(next("0 0 * * 7", "2026-03-02T00:00:00Z")).toBe("2026-03-08T00:00:00.000Z"); // 7 is Sunday
    expect(next("@hourly", "2026-03-02T13:01:00Z")).toBe("2026-03-02T14:00:00.000Z");
    expect(next("@daily", "2026-03-02T13:01:00Z")).toBe("2026-03-03T00:00:00.000Z");
    expect(next("@weekly", "2026-03-02T13:01:00Z")).toBe("2026-03-08T00:00:00.000Z");
  });

  test("both day fields restricted: either one matches (Vixie cron)", () => {
    // the 13th, or any Friday: Fri 2026-03-06 comes before the 13th
    expect(next("0 0 13 * FRI", "2026-03-02T00:00:00Z")).toBe("2026-03-06T00:00:00.000Z");
  });

  test("strictly after the given time", () => {
    expect(next("0 * * * *", "2026-03-02T13:00:00Z")).toBe("2026-03-02T14:00:00.000Z");
  });

  test("time zones, including a DST change", () => {
    expect(next("0 2 * * *", "2026-03-02T00:00:00Z", "Europe/Berlin")).toBe("2026-03-02T01:00:00.000Z");
    // America/New_York springs forward on 2026-03-08: 02:30 does not exist that day
    expect(next("30 2 * * *", "2026-03-08T00:00:00Z", "America/New_York")).toBe("2026-03-09T06:30:00.000Z");
    expect(next("0 9 * * *", "2026-03-08T00:00:00Z", "America/New_York")).toBe("2026-03-08T13:00:00.000Z"); // EDT, UTC-4
  });

  test("a date that never comes gives null", () => {
    expect(next("0 0 30 2 *", "2026-01-01T00:00:00Z")).toBeNull();
    expect(next("0 0 1 1 * 2020", "2026-01-01T00:00:00Z")).toBeNull();
  });

  test("errors name the field", () => {
    const bad = (e: string) => {
      const r = parseCron(e);
      return r.ok ? "ok" : r.error;
    };
    expect(bad("61 * * * *")).toBe('minute field "61": 61 is outside 0-59');
    expect(bad("* * *")).toContain("5, 6 or 7 fields");
    expect(bad("0 0 * FOO *")).toBe('month field "FOO": "FOO" is not a number or a name');
    expect(bad("5-1 * * * *")).toBe('minute field "5-1": range 5-1 runs backwards');
    expect(bad("*/0 * * * *")).toContain("step");
    expect(bad("@sometimes")).toContain("unknown shortcut");
  });

  test("several expressions: the earliest wins", () => {
    const crons = ["0 12 * * *", "30 6 * * *"].map((e) => {
      const r = parseCron(e);
      if (!r.ok) throw new Error(r.error);
      return r.cron;
    });
    expect(iso(nextLaunch(crons, at("2026-03-02T07:00:00Z")))).toBe("2026-03-02T12:00:00.000Z");
  });
});
