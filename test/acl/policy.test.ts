// Policy evaluation: rules parsing (HCL, Consul JSON, shorthand) and the
// precedence matrix (exact > longest prefix > default; deny on ties; write
// implies read; the most specific rule decides even when weaker).
import { describe, expect, test } from "bun:test";
import { parseRules, RulesError } from "../../core/acl/rules.ts";
import { compileAuthorizer, serviceIdentityRules } from "../../core/acl/policy.ts";
import type { Resource, Want } from "../../core/acl/types.ts";

const authz = (texts: string[], defaultAllow = false, management = false) =>
  compileAuthorizer({ policies: texts.map(parseRules), management, defaultAllow });

describe("rules parsing", () => {
  test("HCL, Consul JSON and the shorthand give the same rules", () => {
    const hcl = parseRules(`
      # comment
      key_prefix "app/" { policy = "write" }
      service "web" {
        policy = "read"   // trailing comment
        intentions = "write"
      }
      operator = "read"
      /* block
         comment */
    `);
    const json = parseRules(JSON.stringify({
      key_prefix: { "app/": { policy: "write" } }, service: { web: { policy: "read", intentions: "write" } }, operator: "read",
    }));
    const short = parseRules(JSON.stringify({ kv_prefix: { "app/": "write" }, service: { web: { policy: "read", intentions: "write" } }, operator: "read" }));
    expect(json).toEqual(hcl);
    expect(short).toEqual(hcl);
    expect(hcl.unsegmented).toEqual({ operator: "read" });
    expect(hcl.rules).toContainEqual({ resource: "key", segment: "app/", prefix: true, access: "write" });
    expect(hcl.rules).toContainEqual({ resource: "intention", segment: "web", prefix: false, access: "write" });
  });

  test("Consul's array-of-objects JSON form and the list level are accepted", () => {
    const r = parseRules(JSON.stringify({ key_prefix: [{ "a/": { policy: "list" } }, { "b/": { policy: "deny" } }] }));
    expect(r.rules).toEqual([
      { resource: "key", segment: "a/", prefix: true, access: "read" },
      { resource: "key", segment: "b/", prefix: true, access: "deny" },
    ]);
  });

  test("empty rules are valid and grant nothing", () => {
    expect(parseRules("")).toEqual({ rules: [], unsegmented: {} });
    expect(authz([""]).allowed("key", "x", "read")).toBe(false);
  });

  const bad: [string, RegExp][] = [
    ['bogus = "read"', /unknown rule "bogus"/],
    ['operator = "admin"', /access must be/],
    ['key "a" { policy = "superwrite" }', /access must be/],
    ['key "a" { polcy = "read" }', /unknown setting "polcy"/],
    ['key "a" { }', /needs a policy/],
    ['key "a" { policy = "read"', /expected/],
    ['key "a', /unterminated string/],
    ['/* open', /unterminated comment/],
    ["{not json", /not valid JSON/],
    ['["key"]', /expected|rules must be/],
    ['{"key": "read"}', /map of names/],
    ['intention "x" { policy = "read" }', /unknown rule "intention"/],
    ['node "a" { intentions = "read" }', /unknown setting "intentions"/],
    ["key @", /unexpected character/],
  ];
  for (const [text, re] of bad) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      expect(() => parseRules(text)).toThrow(RulesError);
      expect(() => parseRules(text)).toThrow(re);
    });
  }

  test("size bounds", () => {
    expect(() => parseRules(" ".repeat(70_000))).toThrow(/longer than/);
    const many = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, "read"]));
    expect(() => parseRules(JSON.stringify({ key: many }))).toThrow(/more than 1000 rules/);
  });
});

describe("precedence matrix", () => {
  // [rules, resource, segment, want, expected (default deny), expected (default allow)]
  const cases: [string[], Resource, string, Want, boolean, boolean][] = [
    // exact beats prefix, whatever their levels
    [['key "app/x" { policy = "deny" }', 'key_prefix "app/" { policy = "write" }'], "key", "app/x", "read", false, false],
    [['key "app/x" { policy = "write" }', 'key_prefix "app/" { policy = "deny" }'], "key", "app/x", "write", true, true],
    [['key "app/x" { policy = "read" }', 'key_prefix "" { policy = "write" }'], "key", "app/x", "write", false, false],
    // an exact rule does not cover longer names
    [['key "app" { policy = "write" }'], "key", "app/x", "read", false, true],
    [['key "app" { policy = "write" }'], "key", "app", "write", true, true],
    // longest prefix wins
    [['key_prefix "" { policy = "write" }', 'key_prefix "app/" { policy = "read" }'], "key", "app/x", "write", false, false],
    [['key_prefix "" { policy = "write" }', 'key_prefix "app/" { policy = "read" }'], "key", "other", "write", true, true],
    [['key_prefix "app/" { policy = "deny" }', 'key_prefix "app/public/" { policy = "read" }'], "key", "app/public/a", "read", true, true],
    [['key_prefix "app/" { policy = "deny" }', 'key_prefix "app/public/" { policy = "read" }'], "key", "app/private", "read", false, false],
    // same place in two policies: deny > write > read
    [['key_prefix "app/" { policy = "write" }', 'key_prefix "app/" { policy = "deny" }'], "key", "app/a", "read", false, false],
    [['key_prefix "app/" { policy = "read" }', 'key_prefix "app/" { policy = "write" }'], "key", "app/a", "write", true, true],
    [['key "k" { policy = "read" }', 'key "k" { policy = "deny" }'], "key", "k", "read", false, false],
    // write implies read; read does not imply write
    [['service "web" { policy = "write" }'], "service", "web", "read", true, true],
    [['service "web" { policy = "read" }'], "service", "web", "write", false, false],
    // no matching rule: the default policy
    [['service "web" { policy = "read" }'], "service", "api", "read", false, true],
    [[], "node", "n1", "write", false, true],
    // resources are separate
    [['key_prefix "" { policy = "write" }'], "service", "web", "read", false, true],
    // unsegmented
    [['operator = "read"'], "operator", "", "read", true, true],
    [['operator = "read"'], "operator", "", "write", false, false],
    [['operator = "write"', 'operator = "deny"'], "operator", "", "read", false, false],
    [['acl = "write"'], "acl", "", "write", true, true],
    [[], "acl", "", "read", false, true],
    // intentions derive from service rules
    [['service "web" { policy = "read" }'], "intention", "web", "read", true, true],
    [['service "web" { policy = "write" }'], "intention", "web", "write", false, false],
    [['service "web" { policy = "read" intentions = "write" }'], "intention", "web", "write", true, true],
    [['service "web" { policy = "deny" }'], "intention", "web", "read", false, false],
    [['service_prefix "" { policy = "read" }'], "intention", "any", "read", true, true],
    // the empty segment (routes naming no resource) needs a prefix "" rule
    [['job_prefix "web" { policy = "write" }'], "job", "", "read", false, true],
    [['job_prefix "" { policy = "read" }'], "job", "", "read", true, true],
  ];
  cases.forEach(([rules, res, seg, want, deny, allow], i) => {
    test(`#${i} ${rules.join(" + ") || "(none)"}: ${want} ${res} ${JSON.stringify(seg)}`, () => {
      expect(authz(rules, false).allowed(res, seg, want)).toBe(deny);
      expect(authz(rules, true).allowed(res, seg, want)).toBe(allow);
    });
  });

  test("management allows everything, whatever the rules", () => {
    const a = authz(['key_prefix "" { policy = "deny" }'], false, true);
    for (const r of ["acl", "operator", "key", "service", "intention"] as Resource[]) expect(a.allowed(r, "x", "write")).toBe(true);
  });

  test("readsAll: only when no segment can be refused", () => {
    expect(authz(['key_prefix "" { policy = "read" }']).readsAll("key")).toBe(true);
    expect(authz(['key_prefix "" { policy = "read" }', 'key "x" { policy = "deny" }']).readsAll("key")).toBe(false);
    expect(authz(['key_prefix "a" { policy = "read" }']).readsAll("key")).toBe(false);
    expect(authz([], true).readsAll("key")).toBe(true);
    expect(authz(['key "x" { policy = "deny" }'], true).readsAll("key")).toBe(false);
  });

  test("a service identity writes its service, reads services and nodes, nothing else", () => {
    const a = compileAuthorizer({ policies: [serviceIdentityRules("web")], management: false, defaultAllow: false });
    expect(a.allowed("service", "web", "write")).toBe(true);
    expect(a.allowed("service", "api", "write")).toBe(false);
    expect(a.allowed("service", "api", "read")).toBe(true);
    expect(a.allowed("node", "n1", "read")).toBe(true);
    expect(a.allowed("intention", "web", "read")).toBe(true);
    expect(a.allowed("intention", "web", "write")).toBe(false);
    expect(a.allowed("key", "a", "read")).toBe(false);
  });
});

describe("subtree checks (recursive delete)", () => {
  test("every rule under the prefix must allow it", () => {
    const a = authz(['key_prefix "app/" { policy = "write" }', 'key "app/locked" { policy = "read" }']);
    expect(a.allowed("key", "app/", "write")).toBe(true);
    expect(a.allowedUnder("key", "app/", "write")).toBe(false);
    expect(a.allowedUnder("key", "app/other/", "write")).toBe(true);
    expect(authz(['key_prefix "" { policy = "write" }']).allowedUnder("key", "", "write")).toBe(true);
    expect(authz(['key_prefix "" { policy = "write" }', 'key_prefix "x/" { policy = "deny" }']).allowedUnder("key", "", "write")).toBe(false);
  });
});

test("the global-management policy's rules text parses (reads and the CLI show it)", async () => {
  const { MANAGEMENT_RULES } = await import("../../core/state/domains/acl.ts");
  const r = parseRules(MANAGEMENT_RULES);
  expect(r.unsegmented).toEqual({ acl: "write", operator: "write" });
  expect(r.rules.filter((x) => x.segment === "" && x.prefix && x.access === "write").length).toBe(r.rules.length);
});
