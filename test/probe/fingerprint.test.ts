import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { CpuFacts } from "../../plugins/probe/cpu.ts";
import { fingerprint, mergeResponses, type Detectors } from "../../plugins/probe/fingerprint.ts";

const MIB = 1024 * 1024;

const fakeDetectors: Detectors = {
  cpu: async (): Promise<CpuFacts> => ({
    model: "Test CPU",
    rawModel: "Test CPU @ 2.00GHz",
    cores: 8,
    arch: "arm64",
    baseMhz: 0,
    currentMhz: [],
    cpuinfoMhz: [],
  }),
  memory: async () => ({ totalBytes: 16384 * MIB, availableBytes: 12288 * MIB, usedBytes: 4096 * MIB }),
  os: async () => ({
    platform: "linux",
    distro: "Ubuntu",
    release: "24.04",
    codename: "noble",
    kernel: "6.8.0",
    arch: "arm64",
    machine: "aarch64",
    hostname: "test-node",
  }),
  disk: async (dataDir) => ({
    dataDir,
    statPath: dataDir,
    volume: "/dev/nvme0n1p1",
    mountPoint: "/",
    totalBytes: 100e9,
    freeBytes: 60e9,
  }),
};

describe("fingerprint (made-up host)", () => {
  test("combines the four fingerprinters", async () => {
    const fp = await fingerprint({ dataDir: "/var/lib/corral", detectors: fakeDetectors });
    expect(fp.resources).toEqual({ cpuMhz: 8 * 2000, cores: 8, memoryBytes: 16384 * MIB, diskBytes: 60e9 });
    expect(fp.reserved).toEqual({ cpuMhz: 0, memoryBytes: 0 });
    expect(fp.warnings).toEqual([]);
    expect(fp.attributes).toMatchObject({
      "cpu.model": "Test CPU",
      "cpu.cores": "8",
      "cpu.mhz": "2000",
      "cpu.mhz.source": "model",
      "cpu.arch": "arm64",
      "memory.totalbytes": String(16384 * MIB),
      "os.name": "Ubuntu",
      "os.arch": "arm64",
      "kernel.version": "6.8.0",
      "unique.hostname": "test-node",
      "unique.storage.bytesfree": "60000000000",
    });
    for (const v of Object.values(fp.attributes)) expect(typeof v).toBe("string");
  });

  test("overrides: totals and reservations", async () => {
    const fp = await fingerprint({
      dataDir: "/d",
      detectors: fakeDetectors,
      overrides: { cpu_total_mhz: 4000, memory_total_mb: 8192, reserved_cpu_mhz: 500, reserved_memory_mb: 1024 },
    });
    expect(fp.resources).toEqual({ cpuMhz: 4000, cores: 8, memoryBytes: 8192 * MIB, diskBytes: 60e9 });
    expect(fp.reserved).toEqual({ cpuMhz: 500, memoryBytes: 1024 * MIB });
    expect(fp.attributes["cpu.totalcompute.source"]).toBe("config");
    expect(fp.attributes["memory.totalbytes.source"]).toBe("config");
  });

  test("warnings of all fingerprinters are collected", async () => {
    const fp = await fingerprint({
      dataDir: "/d",
      detectors: { ...fakeDetectors, cpu: async () => ({ ...(await fakeDetectors.cpu()), rawModel: "X" }) },
      overrides: { reserved_memory_mb: 1_000_000 },
    });
    expect(fp.attributes["cpu.mhz.source"]).toBe("default");
    expect(fp.warnings).toHaveLength(2);
  });

  test("mergeResponses: first writer of an attribute wins", () => {
    const m = mergeResponses([{ attributes: { a: "1" } }, { attributes: { a: "2", b: "3" } }]);
    expect(m.attributes).toEqual({ a: "1", b: "3" });
  });
});

describe("fingerprint (this host)", () => {
  test("cores = nproc, memory within 1% of MemTotal, disk > 0", async () => {
    const fp = await fingerprint({ dataDir: os.tmpdir() });
    expect(fp.resources.cores).toBe(os.availableParallelism());
    expect(fp.resources.cpuMhz).toBe(fp.resources.cores * Number(fp.attributes["cpu.mhz"]));
    if (process.platform === "linux") {
      const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
      expect(Math.abs(fp.resources.memoryBytes - memTotal) / memTotal).toBeLessThan(0.01);
    }
    expect(fp.resources.diskBytes).toBeGreaterThan(0);
    expect(fp.attributes["unique.hostname"]).toBe(os.hostname());
  });
});
