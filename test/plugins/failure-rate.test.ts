// The pure parts of plugin failure handling: the rate that disables a plugin,
// and where a load error happened.
import { describe, expect, test } from "bun:test";
import { FailureRate } from "../../core/plugins/failure-rate.ts";
import { formatLoadError, locateLoadError } from "../../core/plugins/load-error.ts";

describe("FailureRate", () => {
  test("limit failures within the window trip it; spread-out ones never do", () => {
    const r = new FailureRate(3, 1000);
    expect(r.record(0)).toBe(false);
    expect(r.record(500)).toBe(false);
    expect(r.record(1000)).toBe(true);
    const slow = new FailureRate(3, 1000);
    for (let t = 0; t < 100_000; t += 600) expect(slow.record(t)).toBe(false);
    expect(slow.count(100_000)).toBe(2); // 99000 and 99600
  });
});

describe("locateLoadError", () => {
  test("Bun's BuildMessage position", () => {
    const err = { message: 'Expected "}"', position: { file: "/p/a.ts?v=3", line: 5, column: 2 } };
    expect(formatLoadError(locateLoadError(err, "/p/a.ts"))).toBe('/p/a.ts:5:2: Expected "}"');
  });

  test("a stack frame inside the plugin (file or folder), not outside it", () => {
    const err = new Error("boom");
    err.stack = "Error: boom\n    at x (/lib/dep.ts:1:1)\n    at /p/folder/sub.ts?v=2:7:9\n";
    expect(locateLoadError(err, "/p/folder")).toEqual({ file: "/p/folder/sub.ts", line: 7, column: 9, reason: "boom" });
    expect(locateLoadError(err, "/p/other.ts")).toEqual({ reason: "boom" });
  });

  test("Node's SyntaxError stack: file:line", () => {
    const err = new SyntaxError("Unexpected token ';'");
    err.stack = "file:///p/a.js:3\nfoo(;\n    ^\n\nSyntaxError: Unexpected token ';'";
    expect(formatLoadError(locateLoadError(err, "/p/a.js"))).toBe("/p/a.js:3: Unexpected token ';'");
  });
});
