import { describe, expect, test } from "bun:test";
import { hexToIp, ipToHex, isHostName, normalizeDomain, parseName } from "../../plugins/dns/names.ts";

describe("dns names", () => {
  test("ipToHex / hexToIp round-trip", () => {
    expect(ipToHex("192.0.2.10")).toBe("c000020a");
    expect(hexToIp("c000020a")).toEqual({ ip: "192.0.2.10", family: 4 });
    expect(ipToHex("fd00::4")).toBe("fd000000000000000000000000000004");
    expect(ipToHex("::1")).toBe("00000000000000000000000000000001");
    expect(ipToHex("2001:db8::ffff:192.0.2.1")).toBe("20010db8000000000000ffffc0000201");
    expect(hexToIp("20010db8000000000000ffffc0000201")!.ip).toBe("2001:db8:0:0:0:ffff:c000:201");
    expect(ipToHex("web.example.com")).toBeUndefined();
    expect(hexToIp("c00002")).toBeUndefined();
  });

  test("parseName", () => {
    const d = ["corral", "consul"];
    expect(parseName("Web.Service.Corral.", d, "dc1")).toEqual({ kind: "service", domain: "corral", service: "web" });
    expect(parseName("_web._TCP.service.consul", d, "dc1")).toEqual({ kind: "service", domain: "consul", service: "web" });
    expect(parseName("_web._v2.service.corral", d, "dc1")).toEqual({ kind: "service", domain: "corral", service: "web", tag: "v2" });
    expect(parseName("v2.web.service.dc1.dc.corral", d, "DC1")).toEqual({ kind: "service", domain: "corral", service: "web", tag: "v2" });
    expect(parseName("a.b.node.corral", d, "dc1")).toEqual({ kind: "node", domain: "corral", node: "a.b" });
    expect(parseName("corral", d, "dc1")).toEqual({ kind: "apex", domain: "corral" });
    expect(parseName("example.org", d, "dc1")).toEqual({ kind: "outside" });
    expect(parseName("notcorral", d, "dc1")).toEqual({ kind: "outside" });
    expect(parseName("x.y.z.service.corral", d, "dc1").kind).toBe("unknown");
    expect(parseName("web.service.dc2.corral", d, "dc1").kind).toBe("unknown");
    // Longest domain wins.
    expect(parseName("n.node.sub.corral", ["corral", "sub.corral"], "dc1")).toEqual({ kind: "node", domain: "sub.corral", node: "n" });
  });

  test("helpers", () => {
    expect(normalizeDomain(" Corral. ")).toBe("corral");
    expect(isHostName("db.example.com")).toBe(true);
    expect(isHostName("db.example.com.")).toBe(true);
    expect(isHostName("10.0.0.1")).toBe(false);
    expect(isHostName("has space")).toBe(false);
    expect(isHostName("")).toBe(false);
  });
});
