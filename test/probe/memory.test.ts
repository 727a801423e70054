import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { memoryFingerprint, readMemory } from "../../plugins/probe/memory.ts";

const MIB = 1024 * 1024;
const linux = process.platform === "linux";

function memTotalBytes(): number {
  const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
  return Number(m![1]) * 1024;
}

describe("readMemory (this host)", () => {
  test.skipIf(!linux)("total within 1% of MemTotal in /proc/meminfo", async () => {
    const r = await readMemory();
    const expected = memTotalBytes();
    expect(Math.abs(r.totalBytes - expected) / expected).toBeLessThan(0.01);
  });

  test("used + available = total; both sane", async () => {
    const r = await readMemory();
    expect(r.usedBytes + r.availableBytes).toBe(r.totalBytes);
    expect(r.availableBytes).toBeGreaterThan(0);
    expect(r.usedBytes).toBeGreaterThan(0);
  });
});

describe("memoryFingerprint", () => {
  const reading = { totalBytes: 8 * 1024 * MIB, availableBytes: 6 * 1024 * MIB, usedBytes: 2 * 1024 * MIB };

  test("detected total", () => {
    const fp = memoryFingerprint(reading);
    expect(fp.attributes["memory.totalbytes"]).toBe(String(8 * 1024 * MIB));
    expect(fp.attributes["memory.totalbytes.source"]).toBe("detected");
    expect(fp.resources).toEqual({ memoryBytes: 8 * 1024 * MIB });
    expect(fp.reserved).toEqual({ memoryBytes: 0 });
  });

  test("override memory_total_mb", () => {
    const fp = memoryFingerprint(reading, { memory_total_mb: 2048 });
    expect(fp.resources).toEqual({ memoryBytes: 2048 * MIB });
    expect(fp.attributes["memory.totalbytes"]).toBe(String(2048 * MIB));
    expect(fp.attributes["memory.totalbytes.source"]).toBe("config");
  });

  test("reserved_memory_mb; clamped to the total with a warning", () => {
    expect(memoryFingerprint(reading, { reserved_memory_mb: 512 }).reserved).toEqual({ memoryBytes: 512 * MIB });
    const fp = memoryFingerprint(reading, { memory_total_mb: 1024, reserved_memory_mb: 4096 });
    expect(fp.reserved).toEqual({ memoryBytes: 1024 * MIB });
    expect(fp.warnings!.join(" ")).toContain("reserved_memory_mb");
  });
});
