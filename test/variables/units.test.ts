// The pure parts: the cipher binds a ciphertext to its namespace and path
// and to its key; wrapped keys to their id; workload tokens to their claim
// and key; variable rules' globs; paths and items limits.
import { describe, expect, test } from "bun:test";
import { decryptItems, deriveKek, encryptItems, newDataKey, unwrapDataKey } from "../../core/variables/crypto.ts";
import { deriveIdentityKey, mintWorkloadToken, verifyWorkloadToken, workloadRules, allocIsLive } from "../../core/variables/workload-identity.ts";
import { itemsProblem, pathProblem } from "../../core/variables/limits.ts";
import { parseRules } from "../../core/acl/rules.ts";
import { compileAuthorizer } from "../../core/acl/policy.ts";

const ALLOC = "0b0f8a2e-6c43-4c8e-9d1e-3f7a5b9c2d10";

describe("variables cipher", () => {
  const kek = deriveKek("a-cluster-secret-of-enough-length");
  const k = newDataKey(kek);

  test("round trip; a fresh nonce each time", () => {
    const a = encryptItems(k.key, "default", "jobs/web/db", { pw: "s" });
    const b = encryptItems(k.key, "default", "jobs/web/db", { pw: "s" });
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.data).not.toBe(b.data);
    expect(decryptItems(k.key, "default", "jobs/web/db", a)).toEqual({ pw: "s" });
  });

  test("a ciphertext moved to another path or namespace, or altered, does not decrypt", () => {
    const s = encryptItems(k.key, "default", "jobs/web/db", { pw: "s" });
    expect(() => decryptItems(k.key, "default", "jobs/web2/db", s)).toThrow();
    expect(() => decryptItems(k.key, "other", "jobs/web/db", s)).toThrow();
    const bytes = Buffer.from(s.data, "base64");
    bytes[0] = bytes[0]! ^ 1;
    expect(() => decryptItems(k.key, "default", "jobs/web/db", { nonce: s.nonce, data: bytes.toString("base64") })).toThrow();
    expect(() => decryptItems(newDataKey(kek).key, "default", "jobs/web/db", s)).toThrow();
  });

  test("a wrapped key unwraps under its own id with the same secret only", () => {
    expect(unwrapDataKey(kek, k.id, k.wrapped).equals(k.key)).toBe(true);
    expect(unwrapDataKey(deriveKek("a-cluster-secret-of-enough-length"), k.id, k.wrapped).equals(k.key)).toBe(true);
    expect(() => unwrapDataKey(deriveKek("another-cluster-secret-0000"), k.id, k.wrapped)).toThrow();
    expect(() => unwrapDataKey(kek, newDataKey(kek).id, k.wrapped)).toThrow();
  });
});

describe("workload tokens", () => {
  const key = deriveIdentityKey("a-cluster-secret-of-enough-length");
  const token = mintWorkloadToken(key, { allocId: ALLOC, task: "t.web-1" });

  test("verify gives back the claim; any change or another key gives nothing", () => {
    expect(token.length).toBeLessThanOrEqual(256);
    expect(verifyWorkloadToken(key, token)).toEqual({ allocId: ALLOC, task: "t.web-1" });
    expect(verifyWorkloadToken(key, token.replace("t.web-1", "t.web-2"))).toBeUndefined();
    expect(verifyWorkloadToken(key, token.replace(ALLOC, ALLOC.replace("0b0f", "0b0e")))).toBeUndefined();
    expect(verifyWorkloadToken(deriveIdentityKey("another-cluster-secret-0000"), token)).toBeUndefined();
    expect(verifyWorkloadToken(key, token.slice(0, -1))).toBeUndefined();
    expect(verifyWorkloadToken(key, "cwi1.x")).toBeUndefined();
    expect(verifyWorkloadToken(key, "not-a-workload-token")).toBeUndefined();
    // the longest task name still fits the token limit
    expect(mintWorkloadToken(key, { allocId: ALLOC, task: "t".repeat(128) }).length).toBeLessThanOrEqual(256);
  });

  test("the implicit policy reads jobs/<job> and below, services, and nothing else", () => {
    // As the resolver compiles it: no default_policy fallback (core/acl/resolve.ts).
    const a = compileAuthorizer({ policies: [workloadRules("web")], management: false, defaultAllow: false });
    for (const p of ["jobs/web", "jobs/web/db", "jobs/web/g/t"]) expect(a.allowed("variable", p, "read")).toBe(true);
    for (const p of ["jobs/web2", "jobs/web2/db", "jobs/webby", "jobs", "other/web"]) expect(a.allowed("variable", p, "read")).toBe(false);
    expect(a.allowed("variable", "jobs/web/db", "write")).toBe(false);
    expect(a.allowed("service", "anything", "read")).toBe(true);
    expect(a.allowed("service", "anything", "write")).toBe(false);
    expect(allocIsLive({ desiredStatus: "run", clientStatus: "running" })).toBe(true);
    expect(allocIsLive({ desiredStatus: "stop", clientStatus: "running" })).toBe(false);
    expect(allocIsLive({ desiredStatus: "run", clientStatus: "complete" })).toBe(false);
  });
});

describe("variable rules and limits", () => {
  test("only a trailing /* is a glob", () => {
    const rules = parseRules('variable "jobs/web/*" { policy = "read" }\nvariable "a*" { policy = "read" }\nvariable "*" { policy = "deny" }').rules;
    expect(rules).toEqual([
      { resource: "variable", segment: "jobs/web/", prefix: true, access: "read" },
      { resource: "variable", segment: "a*", prefix: false, access: "read" },
      { resource: "variable", segment: "", prefix: true, access: "deny" },
    ]);
    expect(() => parseRules('variable "x/*" { policy = "list" }')).toThrow(/list/);
    expect(() => parseRules('{"variable": {"x/*": "list"}}')).toThrow(/list/);
  });

  test("paths and items", () => {
    for (const ok of ["a", "jobs/web/db", "a.b/c-d_e~f", "x".repeat(128)]) expect(pathProblem(ok)).toBeUndefined();
    for (const bad of ["", "/a", "a/", "a//b", "a/../b", "a/./b", "..", "a b", "a\\b", "ä", "x".repeat(129)]) expect(pathProblem(bad)).toBeString();
    expect(itemsProblem({ k: "v" })).toBeUndefined();
    expect(itemsProblem({})?.status).toBe(400);
    expect(itemsProblem({ "a b": "v" })?.status).toBe(400);
    expect(itemsProblem({ k: "x".repeat(64 * 1024) })?.status).toBe(413);
    expect(itemsProblem({ k: "x".repeat(64 * 1024 - 1) })).toBeUndefined();
  });
});

describe("the resolver and workload tokens", () => {
  test("a workload token gets its implicit policy only, even with default_policy allow, and is asked about on every request", async () => {
    const { TokenResolver } = await import("../../core/acl/resolve.ts");
    let asked = 0;
    let live = true;
    const r = new TokenResolver({
      source: { lookup: () => null, version: () => 1 }, defaultAllow: () => true, ttlMs: 0, downPolicy: "deny",
      workload: async () => (asked++, live ? { allocId: ALLOC, task: "t", namespace: "default", jobId: "web", group: "g", service: "" } : null),
    });
    const id = await r.resolve("cwi1.anything");
    expect(id?.authz.allowed("variable", "jobs/web/db", "read")).toBe(true);
    expect(id?.authz.allowed("variable", "jobs/other/db", "read")).toBe(false);
    expect(id?.authz.allowed("key", "x", "read")).toBe(false);
    expect(id?.authz.allowed("operator", "", "read")).toBe(false);
    live = false;
    expect(await r.resolve("cwi1.anything")).toBeUndefined();
    expect(asked).toBe(2);
  });
});
