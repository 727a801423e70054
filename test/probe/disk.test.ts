import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { detectDisk, diskFingerprint, longestMountPrefix, parseMounts } from "../../plugins/probe/disk.ts";

describe("detectDisk (this host)", () => {
  test("figures are those of statfs on the data dir", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-probe-"));
    try {
      const f = await detectDisk(dir);
      const s = statfsSync(dir);
      expect(f.totalBytes).toBe(s.blocks * s.bsize);
      // free space moves while other processes write: allow 64 MiB of drift
      expect(Math.abs(f.freeBytes - s.bavail * s.bsize)).toBeLessThan(64 * 1024 * 1024);
      expect(f.freeBytes).toBeLessThanOrEqual(f.totalBytes);
      if (process.platform === "linux") expect(f.mountPoint.startsWith("/")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a data dir that does not exist yet is measured at its nearest existing parent", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "corral-probe-"));
    try {
      const f = await detectDisk(path.join(dir, "not", "yet"));
      expect(f.statPath).toBe(path.resolve(dir));
      expect(f.totalBytes).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mount table", () => {
  const table = [
    "/dev/vda1 / ext4 rw 0 0",
    "tmpfs /tmp tmpfs rw 0 0",
    "/dev/vdb /data ext4 rw 0 0",
    "/dev/vdc /data/my\\040disk xfs rw 0 0",
    "/dev/vdd /database ext4 rw 0 0",
  ].join("\n");

  test("parseMounts unescapes octal sequences", () => {
    expect(parseMounts(table)[3]).toEqual({ device: "/dev/vdc", mountPoint: "/data/my disk" });
  });

  test("longest prefix on a path boundary wins", () => {
    const m = parseMounts(table);
    expect(longestMountPrefix("/data/corral", m)?.device).toBe("/dev/vdb");
    expect(longestMountPrefix("/data/my disk/x", m)?.device).toBe("/dev/vdc");
    expect(longestMountPrefix("/database2/x", m)?.device).toBe("/dev/vda1");
    expect(longestMountPrefix("/data", m)?.device).toBe("/dev/vdb");
    expect(longestMountPrefix("/x", [])).toBeUndefined();
  });

  test("a later mount on the same point shadows the earlier one", () => {
    const m = parseMounts("a / ext4 rw 0 0\nb /data ext4 rw 0 0\nc /data tmpfs rw 0 0");
    expect(longestMountPrefix("/data/x", m)?.device).toBe("c");
  });
});

describe("diskFingerprint", () => {
  test("schedulable disk is the free space; Nomad storage attributes", () => {
    const fp = diskFingerprint({
      dataDir: "/var/lib/corral",
      statPath: "/var/lib/corral",
      volume: "/dev/vda1",
      mountPoint: "/",
      totalBytes: 1000,
      freeBytes: 400,
    });
    expect(fp.attributes).toEqual({
      "unique.storage.bytestotal": "1000",
      "unique.storage.bytesfree": "400",
      "unique.storage.volume": "/dev/vda1",
      "unique.storage.mount": "/",
    });
    expect(fp.resources).toEqual({ diskBytes: 400 });
  });
});
