// Shapes shared by the probe fingerprinters (cpu.ts, memory.ts, os.ts,
// disk.ts) and by fingerprint.ts, which merges their responses.
//
// Each fingerprinter is split in two, as Nomad's are: a `detect*` function
// that does the I/O (systeminformation, /proc, statfs) and returns plain facts,
// and a pure `*Fingerprint(facts, overrides)` that turns facts into a
// response. Tests drive the pure half with made-up facts; the agent and the
// plugin run both.

/**
 * Operator overrides, named exactly like the keys of `[plugins.probe]` so the
 * plugin config can be passed as is. All optional; absent means "detect".
 */
export interface ProbeOverrides {
  /** Total CPU MHz to advertise instead of cores × detected MHz. */
  cpu_total_mhz?: number;
  /** Total memory (MiB) to advertise instead of MemTotal. */
  memory_total_mb?: number;
  /** CPU MHz kept back for the OS and corral itself (not schedulable). */
  reserved_cpu_mhz?: number;
  /** Memory (MiB) kept back for the OS and corral itself (not schedulable). */
  reserved_memory_mb?: number;
}

export interface NodeResources {
  /** Schedulable CPU: logical cores × MHz per core, or `cpu_total_mhz`. */
  cpuMhz: number;
  /** Logical cores this process may run on (equals `nproc`). */
  cores: number;
  memoryBytes: number;
  /** Bytes available to corral on the filesystem holding the data dir. */
  diskBytes: number;
}

export interface ReservedResources {
  cpuMhz: number;
  memoryBytes: number;
}

/** What one fingerprinter reports; fingerprint.ts merges several. */
export interface FingerprintResponse {
  /** Nomad-style node attributes (`cpu.cores`, `kernel.version`, ...). */
  attributes: Record<string, string>;
  resources?: Partial<NodeResources>;
  reserved?: Partial<ReservedResources>;
  /** Plain sentences for the operator: fallbacks taken, overrides clamped. */
  warnings?: string[];
}

export const BYTES_PER_MIB = 1024 * 1024;
