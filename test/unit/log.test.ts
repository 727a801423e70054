// Logs: JSON lines for collectors, readable lines for people, level filter.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../../core/log.ts";

const at = () => new Date("2026-01-02T03:04:05.000Z");

describe("logger", () => {
  test("JSON lines when not a TTY: one object per line, fields and errors included", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", pretty: false, write: (l) => lines.push(l), now: at }).child({ node: "n1" });
    log.info("started", { port: 7700, err: new Error("boom") });
    expect(JSON.parse(lines[0]!)).toEqual({ time: "2026-01-02T03:04:05.000Z", level: "info", msg: "started", node: "n1", port: 7700, err: { message: "boom" } });
  });

  test("readable lines on a TTY", () => {
    const lines: string[] = [];
    createLogger({ level: "debug", pretty: true, write: (l) => lines.push(l), now: at }).warn("disk low", { free: "1G" });
    expect(lines[0]).toBe("2026-01-02T03:04:05.000Z WARN  disk low  free=1G");
  });

  test("the level filters lower levels", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", pretty: false, write: (l) => lines.push(l), now: at });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["w", "e"]);
  });

  test("defaults to JSON when stdout is piped (as under CI and tests)", () => {
    const r = Bun.spawnSync([process.execPath, "-e", `import("${import.meta.dir}/../../core/log.ts").then(m => m.createLogger({ level: "info" }).info("hi"))`]);
    expect(JSON.parse(r.stdout.toString()).msg).toBe("hi");
  });
});
