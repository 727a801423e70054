// The ?filter language (core/http/bexpr.ts): what it selects, and that each
// mistake is refused with the position of the offending token.
import { describe, expect, test } from "bun:test";
import { FilterError, matchesFilter, parseFilter } from "../../core/http/bexpr.ts";

const item = { id: "web-12", status: "running", priority: 50, stop: false, meta: { team: "a", Env: "prod" }, tags: ["x", "y"], empty: [] as string[] };
const m = (expr: string) => matchesFilter(parseFilter(expr), item);

describe("bexpr subset", () => {
  test("operators, selectors (case-insensitive fields, exact map keys first) and boolean logic", () => {
    expect(m('Status == "running"')).toBe(true);
    expect(m('Status != "running"')).toBe(false);
    expect(m("Priority == 50")).toBe(true);
    expect(m("Stop == false")).toBe(true);
    expect(m('Meta.team == "a"')).toBe(true);
    expect(m('Meta.Env == "prod"')).toBe(true);
    expect(m('Meta.missing == "a"')).toBe(false);
    expect(m('Meta.missing != "a"')).toBe(true);
    expect(m('ID contains "eb-1"')).toBe(true);
    expect(m('Tags contains "x"')).toBe(true);
    expect(m('"y" in Tags')).toBe(true);
    expect(m('"z" not in Tags')).toBe(true);
    expect(m('Meta contains "team"')).toBe(true);
    expect(m('ID matches "^web-[0-9]+$"')).toBe(true);
    expect(m('ID not matches "^db"')).toBe(true);
    expect(m("Empty is empty")).toBe(true);
    expect(m("Meta is not empty")).toBe(true);
    expect(m('Status == "dead" or (Meta.team == "a" and not Tags contains "z")')).toBe(true);
    expect(m('Status == "dead" or Meta.team == "a" and Stop == true')).toBe(false);
    expect(m("ID == `web-12`")).toBe(true);
  });

  test("mistakes name their position", () => {
    const cases: [string, number][] = [
      ["", 1], ['Status = "x"', 8], ['Status == "x" and', 18], ['(Status == "x"', 15], ['Status == "x', 11],
      ['Status ==', 10], ['== "x"', 1], ['Status foo "x"', 8], ['Name matches "("', 14], ['and == "x"', 1], ['Status == "x" Status', 15],
    ];
    for (const [expr, pos] of cases) {
      let err: unknown;
      try { parseFilter(expr); } catch (e) { err = e; }
      expect([expr, err instanceof FilterError ? err.position : "no error"]).toEqual([expr, pos]);
    }
    expect(() => parseFilter("not ".repeat(100) + 'A == "1"')).toThrow(/nested deeper/);
    expect(() => parseFilter("A == " + '"' + "x".repeat(5000) + '"')).toThrow(/longer than/);
  });
});
