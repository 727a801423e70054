import { describe, expect, test } from "bun:test";
import os from "node:os";
import { detectOs, osFingerprint } from "../../plugins/probe/os.ts";

describe("detectOs (this host)", () => {
  test("platform, kernel, arch and hostname match node:os", async () => {
    const f = await detectOs();
    expect(f.platform).toBe(process.platform);
    expect(f.kernel).toBe(os.release());
    expect(f.arch).toBe(process.arch);
    expect(f.machine).toBe(os.machine());
    expect(f.hostname).toBe(os.hostname());
  });
});

describe("osFingerprint", () => {
  test("Nomad-style attribute names", () => {
    const fp = osFingerprint({
      platform: "linux",
      distro: "Debian GNU/Linux",
      release: "12",
      codename: "bookworm",
      kernel: "6.1.0-18-amd64",
      arch: "x64",
      machine: "x86_64",
      hostname: "node-1",
    });
    expect(fp.attributes).toEqual({
      "os.name": "Debian GNU/Linux",
      "os.distro": "Debian GNU/Linux",
      "os.platform": "linux",
      "os.version": "12",
      "os.codename": "bookworm",
      "os.arch": "x64",
      "kernel.name": "linux",
      "kernel.version": "6.1.0-18-amd64",
      "kernel.arch": "x86_64",
      "unique.hostname": "node-1",
    });
    expect(fp.resources).toBeUndefined();
  });

  test("unknown distro: os.name falls back to the platform, empty facts are left out", () => {
    const fp = osFingerprint({
      platform: "freebsd",
      distro: "",
      release: "",
      codename: "",
      kernel: "14.0",
      arch: "x64",
      machine: "amd64",
      hostname: "h",
    });
    expect(fp.attributes["os.name"]).toBe("freebsd");
    expect("os.version" in fp.attributes).toBe(false);
    expect("os.codename" in fp.attributes).toBe(false);
  });
});
