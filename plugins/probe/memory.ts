// Memory fingerprinter: total bytes (MemTotal) and live used/available.
//
// readMemory() is cheap enough to run every second: on Linux si.mem() is one
// asynchronous read of /proc/meminfo, no child process (measured in
// docs/probe.md). "Used" here is total − available (what a new task could not
// get without swapping), not total − free: page cache is reclaimable and
// counting it as used would make every long-running node look full.
import * as si from "systeminformation";
import { BYTES_PER_MIB, type FingerprintResponse, type ProbeOverrides } from "./types.ts";

export interface MemoryReading {
  /** MemTotal in bytes. */
  totalBytes: number;
  /** MemAvailable in bytes (free + reclaimable cache). */
  availableBytes: number;
  /** totalBytes − availableBytes. */
  usedBytes: number;
}

/** Cheap live reading (one /proc/meminfo read on Linux). */
export async function readMemory(): Promise<MemoryReading> {
  const m = await si.mem();
  const totalBytes = m.total;
  // si.mem() falls back to os.freemem() when MemAvailable is missing.
  const availableBytes = Math.min(totalBytes, Math.max(0, m.available));
  return { totalBytes, availableBytes, usedBytes: totalBytes - availableBytes };
}

/** Pure: a memory reading plus overrides to attributes, resources and reservation. */
export function memoryFingerprint(reading: MemoryReading, overrides: ProbeOverrides = {}): FingerprintResponse {
  const warnings: string[] = [];
  const totalBytes =
    overrides.memory_total_mb === undefined ? reading.totalBytes : overrides.memory_total_mb * BYTES_PER_MIB;

  let reservedBytes = (overrides.reserved_memory_mb ?? 0) * BYTES_PER_MIB;
  if (reservedBytes > totalBytes) {
    warnings.push(
      `reserved_memory_mb (${overrides.reserved_memory_mb}) exceeds total memory (${Math.floor(totalBytes / BYTES_PER_MIB)} MiB); reserving all of it`,
    );
    reservedBytes = totalBytes;
  }

  const attributes: Record<string, string> = {
    "memory.totalbytes": String(totalBytes),
    "memory.totalbytes.source": overrides.memory_total_mb === undefined ? "detected" : "config",
  };
  if (reservedBytes > 0) attributes["memory.reservedbytes"] = String(reservedBytes);
  return {
    attributes,
    resources: { memoryBytes: totalBytes },
    reserved: { memoryBytes: reservedBytes },
    warnings,
  };
}
