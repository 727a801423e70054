import { describe, expect, test } from "bun:test";
import os from "node:os";
import {
  DEFAULT_MHZ_PER_CORE,
  cpuFingerprint,
  detectCpu,
  mhzFromModel,
  parseCpuinfoMhz,
  pickMhzPerCore,
  type CpuFacts,
} from "../../plugins/probe/cpu.ts";

function nproc(): number {
  const r = Bun.spawnSync(["nproc"]);
  return r.success ? Number(r.stdout.toString().trim()) : os.availableParallelism();
}

const facts = (over: Partial<CpuFacts> = {}): CpuFacts => ({
  model: "AMD EPYC",
  rawModel: "AMD EPYC 7B13",
  cores: 4,
  arch: "x64",
  baseMhz: 0,
  currentMhz: [0, 0, 0, 0],
  cpuinfoMhz: [],
  ...over,
});

describe("detectCpu (this host)", () => {
  test("logical cores equal nproc; arch is this process's", async () => {
    const f = await detectCpu();
    expect(f.cores).toBe(nproc());
    expect(f.cores).toBe(os.availableParallelism());
    expect(f.arch).toBe(process.arch);
    const fp = cpuFingerprint(f);
    expect(fp.attributes["cpu.cores"]).toBe(String(nproc()));
    expect(Number(fp.attributes["cpu.mhz"])).toBeGreaterThan(0);
    expect(fp.resources!.cpuMhz).toBe(f.cores * Number(fp.attributes["cpu.mhz"]));
  });
});

describe("MHz per core: first source with a reading", () => {
  test("systeminformation base clock first", () => {
    expect(pickMhzPerCore(facts({ baseMhz: 3000, currentMhz: [2000], cpuinfoMhz: [2500] }))).toEqual({
      mhz: 3000,
      source: "si.base",
    });
  });
  test("then the mean of known current clocks (zeros ignored)", () => {
    expect(pickMhzPerCore(facts({ currentMhz: [2000, 0, 3000, 0], cpuinfoMhz: [2500] }))).toEqual({
      mhz: 2500,
      source: "si.current",
    });
  });
  test("then /proc/cpuinfo", () => {
    expect(pickMhzPerCore(facts({ cpuinfoMhz: [2596.15, 2596.15] }))).toEqual({ mhz: 2596, source: "cpuinfo" });
  });
  test("then the model string", () => {
    expect(pickMhzPerCore(facts({ rawModel: "Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz" }))).toEqual({
      mhz: 2600,
      source: "model",
    });
  });
  test("else the default, with a warning that names the override", () => {
    const fp = cpuFingerprint(facts());
    expect(fp.attributes["cpu.mhz"]).toBe(String(DEFAULT_MHZ_PER_CORE));
    expect(fp.attributes["cpu.mhz.source"]).toBe("default");
    expect(fp.resources).toEqual({ cpuMhz: 4 * DEFAULT_MHZ_PER_CORE, cores: 4 });
    expect(fp.warnings!.join(" ")).toContain("cpu_total_mhz");
  });
});

describe("cpuFingerprint", () => {
  test("attributes: cores × MHz = total compute; Nomad names alongside", () => {
    const fp = cpuFingerprint(facts({ cpuinfoMhz: [2000, 2000, 2000, 2000] }));
    expect(fp.attributes).toMatchObject({
      "cpu.model": "AMD EPYC",
      "cpu.modelname": "AMD EPYC",
      "cpu.cores": "4",
      "cpu.numcores": "4",
      "cpu.mhz": "2000",
      "cpu.frequency": "2000",
      "cpu.totalcompute": "8000",
      "cpu.totalcompute.source": "detected",
      "cpu.arch": "amd64",
    });
    expect(fp.resources).toEqual({ cpuMhz: 8000, cores: 4 });
    expect(fp.reserved).toEqual({ cpuMhz: 0 });
    expect(fp.warnings).toEqual([]);
  });

  test("override cpu_total_mhz replaces the total, keeps the per-core reading", () => {
    const fp = cpuFingerprint(facts({ baseMhz: 2000 }), { cpu_total_mhz: 1234 });
    expect(fp.resources!.cpuMhz).toBe(1234);
    expect(fp.attributes["cpu.totalcompute"]).toBe("1234");
    expect(fp.attributes["cpu.totalcompute.source"]).toBe("config");
    expect(fp.attributes["cpu.mhz"]).toBe("2000");
  });

  test("override cpu_total_mhz silences the unknown-clock warning's effect on the total", () => {
    const fp = cpuFingerprint(facts(), { cpu_total_mhz: 9000 });
    expect(fp.resources!.cpuMhz).toBe(9000);
  });

  test("reserved_cpu_mhz is reported; more than the total is clamped with a warning", () => {
    expect(cpuFingerprint(facts({ baseMhz: 1000 }), { reserved_cpu_mhz: 500 }).reserved).toEqual({ cpuMhz: 500 });
    const fp = cpuFingerprint(facts({ baseMhz: 1000 }), { reserved_cpu_mhz: 99_999 });
    expect(fp.reserved).toEqual({ cpuMhz: 4000 });
    expect(fp.warnings!.join(" ")).toContain("reserved_cpu_mhz");
  });

  test("unknown model and arch fall back to what is known", () => {
    const fp = cpuFingerprint(facts({ model: "", rawModel: "", arch: "sparc", baseMhz: 1 }));
    expect(fp.attributes["cpu.model"]).toBe("unknown");
    expect(fp.attributes["cpu.arch"]).toBe("sparc");
    expect(cpuFingerprint(facts({ arch: "arm64" })).attributes["cpu.arch"]).toBe("arm64");
  });
});

describe("parsers", () => {
  test("parseCpuinfoMhz", () => {
    const text = "processor\t: 0\ncpu MHz\t\t: 2596.150\nmodel name\t: X\n\nprocessor\t: 1\ncpu MHz\t\t: 1800.000\n";
    expect(parseCpuinfoMhz(text)).toEqual([2596.15, 1800]);
    expect(parseCpuinfoMhz("processor : 0\n")).toEqual([]);
  });
  test("mhzFromModel", () => {
    expect(mhzFromModel("Intel(R) Core(TM) i7-8550U CPU @ 1.80GHz")).toBe(1800);
    expect(mhzFromModel("Some CPU @ 800MHz")).toBe(800);
    expect(mhzFromModel("AMD EPYC")).toBe(0);
  });
});
