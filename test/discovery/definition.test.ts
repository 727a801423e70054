// Service and check definitions (reference §4.1), Go durations, and the
// agent's registry file: pure functions, no processes.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError } from "../../core/http/errors.ts";
import { parseServiceRegistration } from "../../plugins/discovery/definition.ts";
import { parseCheck } from "../../plugins/discovery/check-definition.ts";
import { goDurationMs, goDurationString } from "../../core/config/go-duration.ts";
import { LocalRegistry } from "../../plugins/discovery/local.ts";

const err400 = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(400);
    expect((e as ApiError).format).toBe("text");
    return (e as ApiError).message;
  }
  throw new Error("expected a 400");
};

describe("service definitions", () => {
  test("defaults: ID = Name, [] tags, {} meta, weights 1/1, checks critical with Consul's IDs and names", () => {
    const r = parseServiceRegistration({ Name: "web", Checks: [{ TTL: "10s" }, { TCP: "127.0.0.1:80", Interval: "5s" }] });
    expect(r.service).toEqual({
      id: "web", name: "web", tags: [], address: "", port: 0, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false,
    });
    expect(r.checks.map((c) => [c.id, c.name, c.type, c.status, c.serviceId])).toEqual([
      ["service:web:1", "Service 'web' check", "ttl", "critical", "web"],
      ["service:web:2", "Service 'web' check", "tcp", "critical", "web"],
    ]);
    expect(parseServiceRegistration({ Name: "one", Check: { TTL: "1m" } }).checks[0]!.id).toBe("service:one");
  });

  test("keys match case-insensitively and in snake_case; nested objects too", () => {
    const r = parseServiceRegistration({
      name: "api", id: "api-1", TAGS: ["x"], port: 80, enable_tag_override: true,
      weights: { passing: 5 }, tagged_addresses: { wan: { address: "1.2.3.4", port: 443 } },
      check: { check_id: "c", ttl: "30s", deregister_critical_service_after: "90s", status: "passing" },
    });
    expect(r.service).toMatchObject({ id: "api-1", tags: ["x"], port: 80, enableTagOverride: true, weights: { passing: 5, warning: 1 } });
    expect(r.service.taggedAddresses).toEqual({ wan: { address: "1.2.3.4", port: 443 } });
    expect(r.checks[0]).toMatchObject({ id: "c", status: "passing", ttlMs: 30_000, deregisterAfterMs: 90_000 });
    expect(r.checks[0]!.definition).toEqual({ TTL: "30s", DeregisterCriticalServiceAfter: "1m30s" });
  });

  test("refusals", () => {
    expect(err400(() => parseServiceRegistration({ Name: "x", Check: { TTL: "1s" }, Checks: [{ CheckID: "service:x:1", TTL: "1s" }, { TTL: "1s" }] }))).toContain("duplicate CheckID");
    expect(err400(() => parseServiceRegistration({ Name: "x", Kind: "connect-proxy" }))).toContain("not supported");
    expect(err400(() => parseServiceRegistration({ Name: "x", Meta: { "consul-x": "v" } }))).toContain("reserved");
    expect(err400(() => parseServiceRegistration({ Name: "x", Weights: { Passing: 0 } }))).toContain("Weights");
    expect(err400(() => parseServiceRegistration({ Name: "x", Checks: Array(33).fill({ TTL: "1s" }) }))).toContain("at most 32");
    expect(err400(() => parseCheck({ TTL: "1s" }))).toBe("Missing check name");
    expect(err400(() => parseCheck({ Name: "n", HTTP: "http://x", Interval: "1s", TTL: "1s" }))).toContain("cannot both");
  });

  test("standalone checks: ID defaults to Name, ServiceID kept", () => {
    expect(parseCheck({ Name: "mem", TTL: "15s", ServiceID: "web" })).toMatchObject({ id: "mem", name: "mem", serviceId: "web", ttlMs: 15_000 });
  });
});

describe("Go durations", () => {
  test("parse strings and nanosecond numbers; format like time.Duration.String()", () => {
    expect(goDurationMs("1m30s")).toBe(90_000);
    expect(goDurationMs("120000ms")).toBe(120_000);
    expect(goDurationMs(10e9)).toBe(10_000);
    expect(goDurationMs("0")).toBe(0);
    expect(goDurationMs("10")).toBeUndefined();
    expect(goDurationMs(true)).toBeUndefined();
    expect([500, 10_000, 90_000, 1_500, 3_600_000, 5_400_500].map(goDurationString)).toEqual(["500ms", "10s", "1m30s", "1.5s", "1h0m0s", "1h30m0.5s"]);
  });
});

describe("the agent's registry file", () => {
  test("round-trips atomically; statuses survive; status vs output-only changes", () => {
    const file = join(mkdtempSync(join(tmpdir(), "corral-reg-")), "discovery", "services.json");
    const r = new LocalRegistry(file);
    const reg = parseServiceRegistration({ Name: "web", Check: { TTL: "10s" } });
    r.putService(reg.service, reg.checks, false, 1);
    expect(r.setStatus("service:web", "passing", "ok", 2)).toBe("status");
    expect(r.setStatus("service:web", "passing", "ok", 3)).toBe("none");
    expect(r.setStatus("service:web", "passing", "new", 4)).toBe("output");
    r.save();
    expect(existsSync(file + ".tmp")).toBe(false);
    const again = new LocalRegistry(file);
    again.load();
    expect(again.check("service:web")).toMatchObject({ status: "passing", output: "new" });
    expect(again.listServices()).toEqual([reg.service]);
    expect(again.removeService("web")).toEqual(["service:web"]);
    expect(again.removeService("web")).toBeUndefined();
    expect(JSON.parse(readFileSync(file, "utf8")).version).toBe(1);
  });
});
