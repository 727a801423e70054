// The state adapter and the [plugins.dns] schema.
import { describe, expect, test } from "bun:test";
import { emptyStateReader } from "../../core/state/reader.ts";
import { catalogFromState } from "../../plugins/dns/catalog.ts";
import { dnsConfigSchema } from "../../plugins/dns/config.ts";
import { inst } from "./fake-catalog.ts";

describe("catalogFromState", () => {
  test("state without a usable catalog: an empty catalog", () => {
    for (const state of [undefined, null, {}, { catalog: {} }, { catalog: { healthyInstances: 1 } }]) {
      const c = catalogFromState(state);
      expect(c.serviceInstances("web")).toEqual([]);
      expect(c.node("n1")).toBeUndefined();
    }
  });

  test("the agent's empty state reader: an empty catalog", () => {
    const c = catalogFromState(emptyStateReader);
    expect(c.serviceInstances("web", "v1")).toEqual([]);
    expect(c.node("n1")).toBeUndefined();
  });

  test("uses catalog.healthyInstances and catalog.nodeByName (as methods), dropping critical", () => {
    const seen: unknown[] = [];
    const catalog = {
      prefix: "10.0.0.",
      healthyInstances(name: string, tag?: string) {
        seen.push([name, tag]);
        return [
          { ...inst("n1", this.prefix + "1", 80), serviceId: "web-1", serviceName: "web", weights: { passing: 5, warning: 1 } },
          inst("n2", "10.0.0.2", 80, { status: "critical" }),
        ];
      },
      nodeByName(name: string) {
        return name === "n1" ? { id: "x", name: "N1", address: this.prefix + "1", status: "ready" } : undefined;
      },
      // Same names as DnsCatalog but other shapes: must not be used.
      serviceInstances: () => ({ index: 1, value: [] }),
      node: () => ({ index: 1, value: null }),
    };
    const c = catalogFromState({ catalog, listNodes: () => [] });
    expect(c.serviceInstances("web", "v1")).toEqual([
      { node: "n1", nodeAddress: "10.0.0.1", serviceAddress: "", port: 80, tags: [], status: "passing", weights: { passing: 5, warning: 1 } },
    ]);
    expect(seen).toEqual([["web", "v1"]]);
    expect(c.node("n1")).toEqual({ name: "N1", address: "10.0.0.1" });
    expect(c.node("n9")).toBeUndefined();
  });

  test("a catalog returning something odd answers nothing rather than failing", () => {
    const c = catalogFromState({ catalog: { healthyInstances: () => ({ value: [] }), nodeByName: () => ({ name: 1 }) } });
    expect(c.serviceInstances("web")).toEqual([]);
    expect(c.node("x")).toBeUndefined();
  });
});

describe("[plugins.dns] schema", () => {
  test("defaults", () => {
    expect(dnsConfigSchema.parse({})).toEqual({
      port: 7753,
      bind: "127.0.0.1",
      domain: "corral.",
      service_ttl: 0,
      node_ttl: 0,
      udp_answer_limit: 3,
      tcp_idle_timeout: 10_000,
    });
  });

  test("values are normalized", () => {
    const c = dnsConfigSchema.parse({ domain: "Cluster.Internal", alt_domain: "consul", service_ttl: "30s", node_ttl: "1m", bind: "::" });
    expect([c.domain, c.alt_domain, c.service_ttl, c.node_ttl, c.bind]).toEqual(["cluster.internal.", "consul.", 30, 60, "::"]);
  });

  test("bad values are reported with their key", () => {
    const issue = (v: unknown) => {
      const r = dnsConfigSchema.safeParse(v);
      return r.success ? "ok" : `${r.error.issues[0]!.path.join(".")}: ${r.error.issues[0]!.message}`;
    };
    expect(issue({ porrt: 1 })).toContain("porrt");
    expect(issue({ port: 70000 })).toMatch(/^port:/);
    expect(issue({ bind: "localhost" })).toMatch(/^bind: must be an IP address/);
    expect(issue({ service_ttl: 5 })).toMatch(/^service_ttl: expected a duration string/);
    expect(issue({ node_ttl: "1500ms" })).toMatch(/^node_ttl: a DNS TTL is whole seconds/);
    expect(issue({ node_ttl: "2d" })).toMatch(/^node_ttl: .*too long/);
    expect(issue({ domain: "bad domain" })).toMatch(/^domain: .*not a usable DNS domain/);
    expect(issue({ domain: "." })).toMatch(/^domain:/);
    expect(issue({ alt_domain: "CORRAL" })).toMatch(/^alt_domain: alt_domain must differ/);
    expect(issue({ udp_answer_limit: -1 })).toMatch(/^udp_answer_limit:/);
    expect(issue({ tcp_idle_timeout: "10ms" })).toMatch(/^tcp_idle_timeout: .*too short/);
  });
});
