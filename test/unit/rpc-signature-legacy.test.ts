// The previous release's v1 signatures (core/http/rpc-signature.ts), pure:
// which mode signs what, which mode accepts what, the ±30 s window for v1,
// the MAC binding, and that v2 keeps its replay memory in every mode.
import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import {
  MAX_SKEW_MS, NonceMemory, precheck, signRequest, verifySignature, type LegacySignatures,
} from "../../core/http/rpc-signature.ts";
import { explainSignatureRefusal } from "../../core/http/signature-refusal.ts";

const SECRET = "0123456789abcdef-secret";
const PATH = "/v1/raft/message";
const BODY = '{"from":"a","messages":[]}';
const NOW = 1_800_000_000_000;

/** v1 as the previous release (commit 2723b2f) wrote it, from its documented format. */
function oldReleaseSign(secret: string, method: string, path: string, body: string, t: number): string {
  const bodyHash = createHash("sha256").update(body).digest("hex");
  return `t=${t},sig=${createHmac("sha256", secret).update(`${t}\n${method}\n${path}\n${bodyHash}`).digest("hex")}`;
}

/** The receiver every signature below names (v2 binds it; v1 names none). */
const TO = "node-1:7700";
const RECEIVER = { host: TO, isOurs: (a: string) => a === TO };

const verify = (header: string, mode: LegacySignatures, opts: { now?: number; body?: string; path?: string; method?: string; nonces?: NonceMemory } = {}) =>
  verifySignature(SECRET, header, opts.method ?? "POST", opts.path ?? PATH, opts.body ?? BODY, opts.nonces ?? new NonceMemory(), opts.now ?? NOW, RECEIVER, mode);

describe("signing: the mode decides the format", () => {
  test('"send" signs exactly what the previous release signs; "accept" and "off" sign v2', () => {
    const v1 = signRequest({ secret: SECRET, node: "n1", legacy: "send" }, "POST", PATH, BODY, { to: TO, now: NOW });
    expect(v1).toBe(oldReleaseSign(SECRET, "POST", PATH, BODY, NOW));
    for (const legacy of ["accept", "off", undefined] as const) {
      expect(signRequest({ secret: SECRET, node: "n1", legacy }, "POST", PATH, BODY, { to: TO, now: NOW })).toMatch(/^t=\d+,n=[0-9a-f]{32},node=n1,to=node-1:7700,l=\d+,b=[0-9a-f]{64},sig=[0-9a-f]{64}$/);
    }
  });
});

describe("accepting v1", () => {
  const v1 = oldReleaseSign(SECRET, "POST", PATH, BODY, NOW);

  test('"off" refuses a v1 header with SIGNATURE_LEGACY, saying the format differs', () => {
    const r = verify(v1, "off");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect([r.status, r.code]).toEqual([401, "SIGNATURE_LEGACY"]);
    expect(r.message).toContain("format differs");
    expect(r.message).toContain("cluster.legacy_signatures");
  });

  test('"accept" and "send" accept a good v1 header; it names the legacy signer, and no nonce is spent', () => {
    for (const mode of ["accept", "send"] as const) {
      const nonces = new NonceMemory();
      const r = verify(v1, mode, { nonces });
      expect(r.ok).toBe(true);
      if (r.ok) expect([r.header.version, r.header.node, r.header.length]).toEqual([1, "legacy-v1", undefined]);
      expect(nonces.size).toBe(0);
    }
  });

  test("v1 gets the new ±30 s window, not the old 5 minutes", () => {
    for (const offset of [MAX_SKEW_MS + 1, -(MAX_SKEW_MS + 1), 4 * 60_000]) {
      const r = verify(oldReleaseSign(SECRET, "POST", PATH, BODY, NOW + offset), "accept");
      expect([offset, r.ok, r.ok ? "" : r.code]).toEqual([offset, false, "SIGNATURE_STALE"]);
    }
    for (const offset of [MAX_SKEW_MS - 1, -(MAX_SKEW_MS - 1)]) {
      expect(verify(oldReleaseSign(SECRET, "POST", PATH, BODY, NOW + offset), "accept").ok).toBe(true);
    }
  });

  test("the v1 MAC binds time, method, path, query, body and secret", () => {
    const refused = (r: ReturnType<typeof verify>) => (r.ok ? "accepted" : r.code);
    expect(refused(verify(v1, "accept", { body: BODY + " " }))).toBe("SIGNATURE_INVALID");
    expect(refused(verify(v1, "accept", { method: "PUT" }))).toBe("SIGNATURE_INVALID");
    expect(refused(verify(v1, "accept", { path: PATH + "?x=1" }))).toBe("SIGNATURE_INVALID");
    expect(refused(verify(oldReleaseSign("another-secret-0123", "POST", PATH, BODY, NOW), "accept"))).toBe("SIGNATURE_INVALID");
    // The time moved, MAC kept.
    expect(refused(verify(v1.replace(`t=${NOW}`, `t=${NOW + 1}`), "accept", { now: NOW }))).toBe("SIGNATURE_INVALID");
  });

  test("precheck of a v1 header checks only what the header holds (the MAC needs the body)", () => {
    const forged = `t=${NOW},sig=${"0".repeat(64)}`;
    const pre = precheck(SECRET, forged, "POST", PATH, new NonceMemory(), NOW, RECEIVER, "accept");
    expect(pre.ok).toBe(true);
    expect(verify(forged, "accept").ok).toBe(false);
  });

  test("v2 keeps its replay memory in every mode", () => {
    for (const mode of ["off", "accept", "send"] as const) {
      const nonces = new NonceMemory();
      const v2 = signRequest({ secret: SECRET, node: "n1" }, "POST", PATH, BODY, { to: TO, now: NOW });
      expect(verify(v2, mode, { nonces }).ok).toBe(true);
      const again = verify(v2, mode, { nonces });
      expect([mode, again.ok ? "accepted" : again.code]).toEqual([mode, "SIGNATURE_REPLAYED"]);
    }
  });
});

describe("a peer's refusal, explained", () => {
  test("the previous release's UNAUTHORIZED to our v2 says the format differs, not the secret", () => {
    const m = explainSignatureRefusal("UNAUTHORIZED", "off");
    expect(m).toContain("previous release");
    expect(m).toContain('legacy_signatures = "send"');
    expect(m).not.toContain("wrong cluster.secret");
  });
  test("SIGNATURE_LEGACY (a v1 we sent, refused) says the format differs; SIGNATURE_INVALID still names the secret", () => {
    expect(explainSignatureRefusal("SIGNATURE_LEGACY", "send")).toContain("format differs, not the secret");
    expect(explainSignatureRefusal("SIGNATURE_INVALID", "off")).toContain("wrong cluster.secret");
    expect(explainSignatureRefusal("SIGNATURE_STALE", "off")).toContain("clocks differ");
  });
});
