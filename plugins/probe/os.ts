// OS fingerprinter: platform, distro, release, kernel, arch, hostname.
//
// si.osInfo() is the most expensive call we make (it runs `hostname -f`,
// `date`, reads the release files through a shell, ... about five child
// processes and 20+ ms, see docs/probe.md), so it runs once, at fingerprint
// time. Anything it leaves empty falls back to node:os.
import os from "node:os";
import * as si from "systeminformation";
import type { FingerprintResponse } from "./types.ts";

export interface OsFacts {
  /** "linux", "darwin", "win32", ... (process.platform). */
  platform: string;
  /** "Debian GNU/Linux", "Ubuntu", "macOS"; "" when unknown. */
  distro: string;
  /** Distro release, e.g. "12" or "22.04.4 LTS"; "" when unknown. */
  release: string;
  /** e.g. "bookworm"; "" when unknown. */
  codename: string;
  /** Kernel release, e.g. "6.8.0-45-generic". */
  kernel: string;
  /** Node's process.arch ("x64", "arm64"). */
  arch: string;
  /** Machine hardware name as `uname -m` ("x86_64", "aarch64"). */
  machine: string;
  hostname: string;
}

/** Reads OS facts. Expensive (spawns processes): one-time only. */
export async function detectOs(): Promise<OsFacts> {
  const info = await si.osInfo();
  return {
    platform: info.platform || process.platform,
    distro: info.distro || "",
    release: info.release || "",
    codename: info.codename || "",
    kernel: info.kernel || os.release(),
    arch: process.arch,
    machine: os.machine(),
    hostname: info.hostname || os.hostname(),
  };
}

/** Pure: OS facts to attributes. The OS has no resources and no overrides. */
export function osFingerprint(facts: OsFacts): FingerprintResponse {
  const attributes: Record<string, string> = {
    "os.name": facts.distro || facts.platform,
    "os.platform": facts.platform,
    "os.arch": facts.arch,
    "kernel.name": facts.platform,
    "kernel.version": facts.kernel,
    "kernel.arch": facts.machine,
    "unique.hostname": facts.hostname,
  };
  if (facts.distro) attributes["os.distro"] = facts.distro;
  if (facts.release) attributes["os.version"] = facts.release;
  if (facts.codename) attributes["os.codename"] = facts.codename;
  return { attributes };
}
