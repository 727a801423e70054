// The pure parts of the containers' route out (plugins/container/outbound.ts)
// and its config key: when it is on, the resolv.conf it gives, the pid check
// that guards every kill, the node attribute, and [plugins.container]
// outbound folded into [plugins.exec] container_outbound.
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { outboundSetting, slirpArgs, slirpResolvConf, slirpServes, stopSlirp } from "../../plugins/container/outbound.ts";
import { runtimeAttributes } from "../../plugins/container/runtime.ts";
import { execConfigSchema } from "../../plugins/exec/config.ts";
import { foldPluginAliases } from "../../core/config/plugin-aliases.ts";

describe("container_outbound", () => {
  test("absent: on where slirp4netns is found, else off with a note; false: off, silently; true without it: off, said so", () => {
    expect(outboundSetting(undefined, "/usr/bin/slirp4netns")).toEqual({ path: "/usr/bin/slirp4netns" });
    expect(outboundSetting(undefined, undefined).path).toBeUndefined();
    expect(outboundSetting(undefined, undefined).note).toContain("no route out");
    expect(outboundSetting(false, "/usr/bin/slirp4netns")).toEqual({});
    expect(outboundSetting(true, undefined).note).toContain("container_outbound = true");
  });

  test("the config key: a bool, absent by default, also as [plugins.container] outbound", () => {
    expect(execConfigSchema.parse({}).container_outbound).toBeUndefined();
    expect(execConfigSchema.parse({ container_outbound: false }).container_outbound).toBe(false);
    expect(execConfigSchema.safeParse({ container_outbound: "no" }).success).toBe(false);
    const folded = foldPluginAliases({ container: { outbound: false } });
    expect(folded.settings.exec).toEqual({ container_outbound: false });
  });

  test("the node attribute only when on", () => {
    const rt = { path: "/usr/bin/runc", name: "runc", version: "1" };
    expect(runtimeAttributes(rt, true, { allowPrivileged: false, allowCaps: [], outbound: true })["driver.container.outbound"]).toBe("slirp4netns");
    expect(runtimeAttributes(rt, true, { allowPrivileged: false, allowCaps: [] })["driver.container.outbound"]).toBeUndefined();
  });
});

describe("the helper", () => {
  test("keeps --disable-host-loopback (the node's 127.0.0.1 out of reach)", () => {
    expect(slirpArgs("/run/netns/x")).toContain("--disable-host-loopback");
  });

  test("resolv.conf: slirp's forwarder, the node's search and options kept, its nameservers not", () => {
    const r = slirpResolvConf("# x\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n");
    expect(r).toBe("nameserver 10.0.2.3\nsearch corp.example\noptions edns0 trust-ad\n");
    expect(slirpResolvConf("")).toBe("nameserver 10.0.2.3\n");
  });

  test("a pid is only signalled when its cmdline is slirp4netns naming that namespace", async () => {
    const other = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
    try {
      expect(slirpServes(other.pid, "/run/netns/x")).toBe(false);
      expect(stopSlirp(other.pid, "/run/netns/x")).toBe(false);
      expect(other.exitCode).toBeNull();
      expect(slirpServes(undefined, "/run/netns/x")).toBe(false);
      expect(slirpServes(1, "/run/netns/x")).toBe(false);
      expect(slirpServes(999_999_999, "/run/netns/x")).toBe(false);
    } finally {
      other.kill("SIGKILL");
    }
  });
});
