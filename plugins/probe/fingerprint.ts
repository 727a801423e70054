// The node fingerprint: every fingerprinter run once and merged.
//
// The agent calls fingerprint() directly at start to register its node, so
// this file must not depend on the plugin host (no PluginContext here). The
// detectors are a value passed in (defaults: the real ones), not a global
// registry, so tests can run the merge with made-up facts.
import { cpuFingerprint, detectCpu, type CpuFacts } from "./cpu.ts";
import { detectDisk, diskFingerprint, type DiskFacts } from "./disk.ts";
import { memoryFingerprint, readMemory, type MemoryReading } from "./memory.ts";
import { detectOs, osFingerprint, type OsFacts } from "./os.ts";
import type {
  FingerprintResponse,
  NodeResources,
  ProbeOverrides,
  ReservedResources,
} from "./types.ts";

export interface Fingerprint {
  /** Nomad-style attributes, all strings (see docs/probe.md for the list). */
  attributes: Record<string, string>;
  resources: NodeResources;
  reserved: ReservedResources;
  /** Fallbacks taken and overrides clamped, one sentence each; log them. */
  warnings: string[];
}

/** The I/O half of each fingerprinter; replace any of them in tests. */
export interface Detectors {
  cpu(): Promise<CpuFacts>;
  memory(): Promise<MemoryReading>;
  os(): Promise<OsFacts>;
  disk(dataDir: string): Promise<DiskFacts>;
}

export const realDetectors: Detectors = {
  cpu: detectCpu,
  memory: readMemory,
  os: detectOs,
  disk: detectDisk,
};

export interface FingerprintOptions {
  /** The node's data dir; disk figures are for the filesystem holding it. */
  dataDir: string;
  overrides?: ProbeOverrides;
  detectors?: Partial<Detectors>;
}

/**
 * Fingerprints this host. Expensive (≈50 ms and a handful of child processes
 * for lscpu, dmidecode, hostname...): call it at start or on demand, never
 * per sample.
 */
export async function fingerprint(opts: FingerprintOptions): Promise<Fingerprint> {
  const d: Detectors = { ...realDetectors, ...opts.detectors };
  const overrides = opts.overrides ?? {};
  const [cpu, memory, os, disk] = await Promise.all([d.cpu(), d.memory(), d.os(), d.disk(opts.dataDir)]);
  return mergeResponses([
    cpuFingerprint(cpu, overrides),
    memoryFingerprint(memory, overrides),
    osFingerprint(os),
    diskFingerprint(disk),
  ]);
}

/** Pure: later responses never overwrite an attribute an earlier one set. */
export function mergeResponses(responses: FingerprintResponse[]): Fingerprint {
  const out: Fingerprint = {
    attributes: {},
    resources: { cpuMhz: 0, cores: 0, memoryBytes: 0, diskBytes: 0 },
    reserved: { cpuMhz: 0, memoryBytes: 0 },
    warnings: [],
  };
  for (const r of responses) {
    for (const [k, v] of Object.entries(r.attributes)) if (!(k in out.attributes)) out.attributes[k] = v;
    Object.assign(out.resources, r.resources);
    Object.assign(out.reserved, r.reserved);
    if (r.warnings) out.warnings.push(...r.warnings);
  }
  return out;
}
