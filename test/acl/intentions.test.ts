// Intentions: Consul's precedence (exact/exact 9 > */exact 8 > exact/* 6 >
// */* 5, source/destination), a deny wins a tie, and the default decides
// when nothing matches.
import { describe, expect, test } from "bun:test";
import { decidingIntention, intentionAllows, precedence, validIntentionName, type IntentionRule } from "../../core/acl/intentions.ts";

const I = (source: string, destination: string, action: "allow" | "deny"): IntentionRule => ({ source, destination, action });

describe("intentions", () => {
  test("precedence values follow Consul's table", () => {
    expect(precedence(I("web", "db", "allow"))).toBe(9);
    expect(precedence(I("*", "db", "allow"))).toBe(8);
    expect(precedence(I("web", "*", "allow"))).toBe(6);
    expect(precedence(I("*", "*", "allow"))).toBe(5);
  });

  const set = [I("*", "*", "deny"), I("*", "db", "allow"), I("web", "*", "deny"), I("web", "db", "deny"), I("api", "db", "allow"), I("batch", "*", "allow")];
  // [source, destination, default allow?, expected]
  const matrix: [string, string, boolean, boolean][] = [
    ["web", "db", true, false], // exact/exact deny beats */db allow
    ["api", "db", false, true], // exact/exact allow
    ["other", "db", false, true], // */db allow (8) beats */* deny (5)
    ["web", "cache", true, false], // web/* deny (6) beats */* (5)
    ["batch", "db", false, true], // */db allow (8) beats batch/* allow (6): same answer
    ["batch", "cache", false, true], // batch/* allow (6) beats */* deny (5)
    ["other", "cache", true, false], // */* deny
  ];
  for (const [s, d, def, want] of matrix) {
    test(`${s} → ${d} (default ${def ? "allow" : "deny"}): ${want ? "allow" : "deny"}`, () => {
      expect(intentionAllows(set, s, d, def)).toBe(want);
    });
  }

  test("*/exact outranks exact/*: the destination's own intentions decide", () => {
    expect(intentionAllows([I("web", "*", "allow"), I("*", "db", "deny")], "web", "db", true)).toBe(false);
    expect(intentionAllows([I("web", "*", "deny"), I("*", "db", "allow")], "web", "db", false)).toBe(true);
  });

  test("nothing matches: the default", () => {
    expect(intentionAllows([I("a", "b", "deny")], "x", "y", true)).toBe(true);
    expect(intentionAllows([I("a", "b", "allow")], "x", "y", false)).toBe(false);
    expect(intentionAllows([], "x", "y", false)).toBe(false);
  });

  test("a deny wins a tie at the same precedence", () => {
    expect(decidingIntention([I("web", "db", "allow"), I("web", "db", "deny")], "web", "db")?.action).toBe("deny");
  });

  test("names: whole-name wildcard only, no control characters", () => {
    expect(validIntentionName("*")).toBeUndefined();
    expect(validIntentionName("web")).toBeUndefined();
    expect(validIntentionName("we*")).toMatch(/wildcard/);
    expect(validIntentionName("")).toMatch(/required/);
    expect(validIntentionName("a\u0000b")).toMatch(/control/);
  });
});

describe("call checks for the invoke plugin (service identity → intentions → default)", async () => {
  const { callAuthorizer, cachedList } = await import("../../core/acl/calls.ts");
  const { TokenResolver } = await import("../../core/acl/resolve.ts");
  const { hashSecret } = await import("../../core/acl/secret.ts");
  const grants: Record<string, { accessorId: string; description: string; serviceIdentities: string[]; policies: [] }> = {
    [hashSecret("web-token")]: { accessorId: "w", description: "", serviceIdentities: ["web"], policies: [] },
    [hashSecret("plain-token")]: { accessorId: "p", description: "", serviceIdentities: [], policies: [] },
  };
  const resolver = new TokenResolver({ source: { lookup: (h) => grants[h] ?? null }, defaultAllow: () => false, ttlMs: 0, downPolicy: "deny" });
  let enabled = true;
  const calls = callAuthorizer({
    enabled: () => enabled, defaultAllow: () => false, resolver: () => resolver,
    intentions: () => [I("web", "db", "allow"), I("*", "cache", "allow")],
  });

  test("the token's service identity is the source", async () => {
    expect(await calls.authorizeCall("web-token", "db")).toEqual({ allowed: true, reason: "intention web => db (allow)" });
    expect((await calls.authorizeCall("web-token", "billing")).allowed).toBe(false);
    expect((await calls.authorizeCall("web-token", "billing")).reason).toContain("default policy deny");
  });

  test("no service identity: only wildcard-source intentions match; unknown token refused", async () => {
    expect((await calls.authorizeCall("plain-token", "db")).allowed).toBe(false);
    expect((await calls.authorizeCall("plain-token", "cache")).allowed).toBe(true);
    expect(await calls.authorizeCall("forged", "cache")).toEqual({ allowed: false, reason: "ACL not found" });
    expect((await calls.authorizeCall(undefined, "cache")).allowed).toBe(true); // anonymous, via "*"
  });

  test("ACLs off: every call allowed", async () => {
    enabled = false;
    expect(await calls.authorizeCall("forged", "db")).toEqual({ allowed: true, reason: "ACLs are not enabled" });
    enabled = true;
  });

  test("cachedList: fetched once per ttl, the last list kept when the source fails", async () => {
    let now = 0;
    let fetches = 0;
    let fail = false;
    const list = cachedList(async () => {
      fetches++;
      if (fail) throw new Error("down");
      return [fetches];
    }, () => 1000, () => now);
    expect(await list()).toEqual([1]);
    now = 500;
    expect(await list()).toEqual([1]);
    now = 1500;
    fail = true;
    expect(await list()).toEqual([1]);
    expect(fetches).toBe(2);
  });
});
