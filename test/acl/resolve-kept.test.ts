// What the mesh's hot path keeps of an ACL answer, and for how long (pure,
// with an injected clock; the end-to-end check is test/connect/mesh-caches.test.ts):
//   - an agent compiles a cached grant's identity once, and again after token_ttl;
//   - resolveKept's answer holds (TokenResolver.holds) exactly while resolve()
//     would give it: until token_ttl on agents, until the ACL version moves
//     on leader-role nodes, never for a stale answer kept while no leader answers;
//   - callerMemo answers a connection's repeated token at once while it holds;
//   - call decisions are kept per intentions list, and a new list decides afresh.
import { describe, expect, test } from "bun:test";
import { callAuthorizer, versionedList } from "../../core/acl/calls.ts";
import type { IntentionRule } from "../../core/acl/intentions.ts";
import { hashSecret } from "../../core/acl/secret.ts";
import { TokenResolver, type TokenGrant } from "../../core/acl/resolve.ts";

const grant = (service: string): TokenGrant => ({ accessorId: `acc-${service}`, description: service, serviceIdentities: [service], policies: [{ id: "p1", modifyIndex: 1, rules: 'service_prefix "" { policy = "read" }' }] });

/** An agent's resolver over a map of grants, counting lookups; the clock is `clock.now`. */
function agent(ttlMs = 1000, downPolicy: "extend-cache" | "deny" = "extend-cache") {
  const grants = new Map<string, TokenGrant>([[hashSecret("t-web"), grant("web")]]);
  const clock = { now: 0 };
  let lookups = 0;
  let down = false;
  const resolver = new TokenResolver({
    source: { lookup: (h) => (lookups++, down ? Promise.reject(new Error("no leader")) : grants.get(h) ?? null) },
    defaultAllow: () => false, ttlMs, downPolicy, now: () => clock.now,
  });
  return { resolver, grants, clock, lookups: () => lookups, setDown: (d: boolean) => void (down = d) };
}

describe("TokenResolver: compiled identities and kept answers", () => {
  test("an agent compiles a cached grant once, and again after token_ttl", async () => {
    const a = agent();
    const first = await a.resolver.resolve("t-web");
    expect(first?.serviceIdentities).toEqual(["web"]);
    expect(await a.resolver.resolve("t-web")).toBe(first!); // the same compiled identity
    expect(a.lookups()).toBe(1);
    a.clock.now = 1000;
    const again = await a.resolver.resolve("t-web");
    expect(again).not.toBe(first!);
    expect(a.lookups()).toBe(2);
  });

  test("an agent's kept answer holds until token_ttl of its grant, and not after clear()", async () => {
    const a = agent();
    const { identity, keep } = await a.resolver.resolveKept("t-web");
    expect(identity?.serviceIdentities).toEqual(["web"]);
    a.clock.now = 999;
    expect(a.resolver.holds(keep!)).toBe(true);
    a.clock.now = 1000;
    expect(a.resolver.holds(keep!)).toBe(false);
    const fresh = (await a.resolver.resolveKept("t-web")).keep!;
    expect(a.resolver.holds(fresh)).toBe(true);
    a.resolver.clear();
    expect(a.resolver.holds(fresh)).toBe(false);
  });

  test("a stale answer kept because no leader answers is never kept for later", async () => {
    const a = agent();
    await a.resolver.resolve("t-web");
    a.clock.now = 5000;
    a.setDown(true);
    const r = await a.resolver.resolveKept("t-web");
    expect(r.identity?.serviceIdentities).toEqual(["web"]); // extend-cache
    expect(r.keep).toBeNull();
  });

  test("a leader-role node's kept answer holds until the ACL version moves", async () => {
    let version = 1;
    const grants = new Map<string, TokenGrant>([[hashSecret("t-web"), grant("web")]]);
    const resolver = new TokenResolver({ source: { lookup: (h) => grants.get(h) ?? null, version: () => version }, defaultAllow: () => false, ttlMs: 0, downPolicy: "deny" });
    const { keep } = await resolver.resolveKept("t-web");
    expect(resolver.holds(keep!)).toBe(true);
    version++;
    expect(resolver.holds(keep!)).toBe(false);
  });

  test("a workload token's answer is never kept", async () => {
    const resolver = new TokenResolver({
      source: { lookup: () => null }, defaultAllow: () => false, ttlMs: 1000, downPolicy: "deny",
      workload: async () => ({ allocId: "a1", task: "t", jobId: "j", namespace: "", service: "web" }) as never,
    });
    const r = await resolver.resolveKept("cwi1.anything");
    expect(r.identity?.serviceIdentities).toEqual(["web"]);
    expect(r.keep).toBeNull();
  });
});

describe("callAuthorizer: the per-connection caller and kept decisions", () => {
  test("callerMemo: the same token again is answered at once while it holds, asked again after", async () => {
    const a = agent();
    const calls = callAuthorizer({ enabled: () => true, defaultAllow: () => false, resolver: () => a.resolver, intentions: () => [] });
    const lookup = calls.callerMemo();
    const first = lookup("t-web");
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe("web");
    expect(lookup("t-web")).toBe("web"); // no promise: kept
    expect(lookup("t-other")).toBeInstanceOf(Promise); // another token: asked
    expect(await lookup("t-other")).toBeUndefined();
    expect(await lookup("t-web")).toBe("web");
    // The token deleted at the leaders: after token_ttl the agent asks again, and the memo with it.
    a.grants.clear();
    a.clock.now = 1000;
    const after = lookup("t-web");
    expect(after).toBeInstanceOf(Promise);
    expect(await after).toBeUndefined();
  });

  test("decisions are kept per intentions list; a new list (an intention changed) decides afresh", async () => {
    let version = 0;
    let rules: IntentionRule[] = [{ source: "web", destination: "files", action: "allow" }];
    let reads = 0;
    const calls = callAuthorizer({
      enabled: () => true, defaultAllow: () => false, resolver: () => agent().resolver,
      intentions: versionedList(() => (reads++, rules), () => version),
    });
    const d1 = await calls.authorizeSource("web", "files");
    expect(d1.allowed).toBe(true);
    expect(await calls.authorizeSource("web", "files")).toBe(d1); // the kept decision
    expect(reads).toBe(1);
    rules = [{ source: "web", destination: "files", action: "deny" }];
    expect((await calls.authorizeSource("web", "files")).allowed).toBe(true); // the version has not moved: no read
    version++;
    const d2 = await calls.authorizeSource("web", "files");
    expect(d2).toEqual({ allowed: false, reason: "intention web => files (deny)" });
    expect(reads).toBe(2);
  });
});
