// Text log lines keep key=value pairs apart: values with spaces are quoted,
// errors show their message (and code), not a JSON object.
import { describe, expect, test } from "bun:test";
import { createLogger, textValue, wantsText } from "../../core/log.ts";

describe("text log lines", () => {
  test("values", () => {
    expect(textValue("dns")).toBe("dns");
    expect(textValue("address already in use")).toBe('"address already in use"');
    expect(textValue("")).toBe('""');
    expect(textValue(7753)).toBe("7753");
    expect(textValue(["a", "b"])).toBe('["a","b"]');
  });

  test("an error field reads as its message", () => {
    const lines: string[] = [];
    const err = Object.assign(new Error("listen failed"), { code: "EADDRINUSE" });
    createLogger({ level: "info", format: "text", write: (l) => lines.push(l), now: () => new Date(0) }).error("plugin failed", { plugin: "dns", err });
    expect(lines).toEqual(['1970-01-01T00:00:00.000Z ERROR plugin failed  plugin=dns err="listen failed (EADDRINUSE)"']);
  });

  test("format choice", () => {
    expect(wantsText("text", false)).toBe(true);
    expect(wantsText("json", true)).toBe(false);
    expect(wantsText("auto", true)).toBe(true);
    expect(wantsText("auto", false)).toBe(false);
  });
});
