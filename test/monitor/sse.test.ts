// SSE frames and the incremental parser used by `corral monitor` and the tests.
import { describe, expect, test } from "bun:test";
import { SseParser, sseComment, sseFrame, sseRetry } from "../../core/monitor/sse.ts";

describe("sse", () => {
  test("a frame round-trips through the parser, whatever the chunking", () => {
    const text = sseRetry(1000) + sseComment("hello") + sseFrame({ id: 7, event: "kv", data: { key: "a\nb" } }) + sseFrame({ event: "plugin", data: { x: 1 } });
    for (const size of [1, 2, 3, 7, 1000]) {
      const p = new SseParser();
      const out = [];
      for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
      expect(out).toEqual([
        { id: "7", event: "kv", data: JSON.stringify({ key: "a\nb" }) },
        { event: "plugin", data: JSON.stringify({ x: 1 }) },
      ]);
    }
  });

  test("CRLF, multi-line data, fields without a space, comments", () => {
    const p = new SseParser();
    expect(p.push(": keepalive\r\n\r\nid:3\r\nevent:x\r\ndata:a\r\ndata: b\r\n\r\n")).toEqual([{ id: "3", event: "x", data: "a\nb" }]);
    expect(p.push("data: no event name\n\n")).toEqual([{ event: "message", data: "no event name" }]);
  });

  test("a comment cannot break out of its line", () => {
    expect(sseComment("a\nid: 9")).toBe(": a id: 9\n\n");
  });
});
