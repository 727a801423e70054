// grantKey (core/acl/grant-key.ts) decides which tokens may share a cut
// answer: equal keys must mean equal decisions, so every part of a grant
// must move it, and nothing that leaves the decisions alone may.
import { describe, expect, test } from "bun:test";
import { grantKey } from "../../core/acl/grant-key.ts";
import { compileAuthorizer } from "../../core/acl/policy.ts";
import { parseRules } from "../../core/acl/rules.ts";

const web = parseRules('service "web" { policy = "read" }');
const nodes = parseRules('node_prefix "" { policy = "read" }');
const key = (policies = [web, nodes], defaultAllow = false, management = false) => grantKey({ policies, defaultAllow, management });

describe("grantKey", () => {
  test("the same policies in another order: the same key (the one the compiled authorizer carries)", () => {
    expect(key([nodes, web])).toBe(key([web, nodes]));
    expect(key()).toBe(compileAuthorizer({ policies: [web, nodes], management: false, defaultAllow: false }).key!);
  });

  test("every part of a grant moves it: a segment, prefix or exact, the level, default_policy, an unsegmented rule", () => {
    const variants = [
      key([parseRules('service "db" { policy = "read" }'), nodes]),
      key([parseRules('service_prefix "web" { policy = "read" }'), nodes]),
      key([parseRules('service "web" { policy = "deny" }'), nodes]),
      key([web, nodes], true),
      key([web, nodes, parseRules('operator = "read"')]),
      key([web]),
      key([web, nodes], false, true),
    ];
    expect(new Set([key(), ...variants]).size).toBe(variants.length + 1);
  });
});
