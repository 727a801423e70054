// CPU fingerprinter: model, logical cores, MHz per core, total MHz, arch.
//
// Total compute is cores × MHz per core, as Nomad's `cpu.totalcompute`. The
// MHz reading is often missing on virtual machines (no cpufreq in sysfs, no
// "MHz" in lscpu, Bun's os.cpus() reports speed 0), so it is taken from the
// first source that has it, in order of stability:
//   1. "si.base"     systeminformation's base clock (lscpu / model string)
//   2. "si.current"  systeminformation's current per-core clocks
//   3. "cpuinfo"     the "cpu MHz" lines of /proc/cpuinfo (Linux)
//   4. "model"       "@ 2.60GHz" in the raw model name
//   5. "default"     DEFAULT_MHZ_PER_CORE, with a warning to set cpu_total_mhz
// `cpu.mhz.source` says which one was used.
import os from "node:os";
import { readFile } from "node:fs/promises";
import * as si from "systeminformation";
import type { FingerprintResponse, ProbeOverrides } from "./types.ts";

/**
 * Assumed MHz per core when nothing reports a clock. Nomad assumes 1000 MHz
 * for the whole node; we assume it per core so a many-core VM is not
 * advertised as one slow core, and we say so in a warning.
 */
export const DEFAULT_MHZ_PER_CORE = 1000;

export type CpuMhzSource = "si.base" | "si.current" | "cpuinfo" | "model" | "default";

export interface CpuFacts {
  /** Human model, e.g. "AMD EPYC"; "" when unknown. */
  model: string;
  /** Raw model string of the first core (may carry "@ 2.60GHz"). */
  rawModel: string;
  /** Logical cores this process may use: os.availableParallelism() = `nproc`. */
  cores: number;
  /** Node's process.arch ("x64", "arm64", ...). */
  arch: string;
  /** Base clock from systeminformation in MHz; 0 when unknown. */
  baseMhz: number;
  /** Current clock per core from systeminformation in MHz; 0 = unknown. */
  currentMhz: number[];
  /** "cpu MHz" values from /proc/cpuinfo; empty when unavailable. */
  cpuinfoMhz: number[];
}

/** Node's arch names to Go's, which Nomad job constraints use for `cpu.arch`. */
const GO_ARCH: Record<string, string> = {
  x64: "amd64",
  ia32: "386",
  arm: "arm",
  arm64: "arm64",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mipsel: "mipsle",
};

/** Reads CPU facts. Expensive: si.cpu() runs lscpu and dmidecode. One-time only. */
export async function detectCpu(): Promise<CpuFacts> {
  const [info, current, cpuinfoMhz] = await Promise.all([
    si.cpu(),
    si.cpuCurrentSpeed(),
    readCpuinfoMhz(),
  ]);
  const model = [info.manufacturer, info.brand].filter((s) => s && s.trim()).join(" ").trim();
  return {
    model,
    rawModel: os.cpus()[0]?.model ?? "",
    cores: os.availableParallelism(),
    arch: process.arch,
    baseMhz: ghzToMhz(info.speed),
    currentMhz: (current.cores ?? []).map(ghzToMhz),
    cpuinfoMhz,
  };
}

/** "cpu MHz : 2596.150" lines of /proc/cpuinfo; [] off Linux or on error. */
export async function readCpuinfoMhz(path = "/proc/cpuinfo"): Promise<number[]> {
  if (process.platform !== "linux") return [];
  try {
    return parseCpuinfoMhz(await readFile(path, "utf8"));
  } catch {
    return [];
  }
}

export function parseCpuinfoMhz(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^cpu MHz\s*:\s*([\d.]+)/.exec(line);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/** "Intel(R) Xeon(R) CPU E5-2670 @ 2.60GHz" → 2600; 0 when absent. */
export function mhzFromModel(model: string): number {
  const m = /@\s*([\d.]+)\s*([GM])Hz/i.exec(model);
  if (!m) return 0;
  const value = Number(m[1]);
  return Math.round(m[2]!.toUpperCase() === "G" ? value * 1000 : value);
}

function ghzToMhz(ghz: number | undefined): number {
  return ghz && Number.isFinite(ghz) && ghz > 0 ? Math.round(ghz * 1000) : 0;
}

function meanOfKnown(values: number[]): number {
  const known = values.filter((v) => Number.isFinite(v) && v > 0);
  if (known.length === 0) return 0;
  return Math.round(known.reduce((a, b) => a + b, 0) / known.length);
}

/** Picks MHz per core from the first source that has a reading (see file comment). */
export function pickMhzPerCore(facts: CpuFacts): { mhz: number; source: CpuMhzSource } {
  const candidates: [CpuMhzSource, number][] = [
    ["si.base", facts.baseMhz],
    ["si.current", meanOfKnown(facts.currentMhz)],
    ["cpuinfo", meanOfKnown(facts.cpuinfoMhz)],
    ["model", mhzFromModel(facts.rawModel)],
  ];
  for (const [source, mhz] of candidates) if (mhz > 0) return { mhz, source };
  return { mhz: DEFAULT_MHZ_PER_CORE, source: "default" };
}

/** Pure: CPU facts plus overrides to attributes, resources and reservation. */
export function cpuFingerprint(facts: CpuFacts, overrides: ProbeOverrides = {}): FingerprintResponse {
  const warnings: string[] = [];
  const cores = Math.max(1, Math.floor(facts.cores));
  const { mhz, source } = pickMhzPerCore(facts);
  if (source === "default") {
    warnings.push(
      `no CPU clock reading found (systeminformation, /proc/cpuinfo, model name); assuming ${DEFAULT_MHZ_PER_CORE} MHz per core: set cpu_total_mhz in [plugins.probe] to advertise the real figure`,
    );
  }
  const detectedTotal = cores * mhz;
  const totalMhz = overrides.cpu_total_mhz ?? detectedTotal;

  let reservedMhz = overrides.reserved_cpu_mhz ?? 0;
  if (reservedMhz > totalMhz) {
    warnings.push(`reserved_cpu_mhz (${reservedMhz}) exceeds total CPU (${totalMhz} MHz); reserving all of it`);
    reservedMhz = totalMhz;
  }

  const model = facts.model || facts.rawModel || "unknown";
  const attributes: Record<string, string> = {
    "cpu.model": model,
    "cpu.modelname": model,
    "cpu.cores": String(cores),
    "cpu.numcores": String(cores),
    "cpu.mhz": String(mhz),
    "cpu.frequency": String(mhz),
    "cpu.mhz.source": source,
    "cpu.totalcompute": String(totalMhz),
    "cpu.totalcompute.source": overrides.cpu_total_mhz === undefined ? "detected" : "config",
    "cpu.arch": GO_ARCH[facts.arch] ?? facts.arch,
  };
  if (reservedMhz > 0) attributes["cpu.reserved_mhz"] = String(reservedMhz);
  return {
    attributes,
    resources: { cpuMhz: totalMhz, cores },
    reserved: { cpuMhz: reservedMhz },
    warnings,
  };
}
