// Pure pieces of the mesh on the sockets engine: the source's check of the
// destination's certificate at the handshake (Bun reports the chain's error
// first, then its own host name check, which a SPIFFE-only leaf cannot
// pass), the destination's view of the caller, the caller's token read from
// a request head as the API reads it, and the caller's identity fields
// dropped from what crosses the mesh.
import { describe, expect, test } from "bun:test";
import { upstreamPrefix } from "../../plugins/invoke/fast/http1.ts";
import { headToken } from "../../plugins/invoke/fast/head-token.ts";
import { peerOf } from "../../plugins/invoke/fast/mesh-listen.ts";
import { peerRefusal } from "../../plugins/invoke/fast/mesh-upstream.ts";
import { readRequestHead } from "../../plugins/invoke/fast/scan.ts";

const TD = "11111111-2222-3333-4444-555555555555.corral";
const head = (text: string) => {
  const b = Buffer.from(text, "latin1");
  return readRequestHead(b, b.indexOf("\r\n\r\n"));
};

describe("the destination's certificate, as the source checks it", () => {
  const altname = { code: "ERR_TLS_CERT_ALTNAME_INVALID", message: "Hostname/IP does not match certificate's altnames" };
  test("a verified leaf of the trust domain passes (Bun's host name error is expected)", () => {
    expect(peerRefusal(altname, `URI:spiffe://${TD}/ns/default/svc/corral-agent.b`, TD)).toBeUndefined();
    expect(peerRefusal(null, `DNS:x, URI:spiffe://${TD}/ns/default/svc/corral-agent.b`, TD)).toBeUndefined();
  });
  test("a chain that does not verify, another trust domain, or no SPIFFE ID is refused", () => {
    expect(peerRefusal({ code: "SELF_SIGNED_CERT_IN_CHAIN", message: "self signed certificate in certificate chain" }, `URI:spiffe://${TD}/ns/default/svc/x`, TD)).toMatch(/does not verify: self signed/);
    expect(peerRefusal({ code: "CERT_HAS_EXPIRED", message: "certificate has expired" }, `URI:spiffe://${TD}/ns/default/svc/x`, TD)).toMatch(/expired/);
    expect(peerRefusal(altname, "URI:spiffe://other.example/ns/default/svc/corral-agent.b", TD)).toMatch(/not of trust domain/);
    expect(peerRefusal(altname, undefined, TD)).toMatch(/not of trust domain/);
    expect(peerRefusal(null, `DNS:spiffe://${TD}/ns/default/svc/x`, TD)).toMatch(/not of trust domain/);
  });
});

describe("the caller, as the destination takes it from the handshake", () => {
  test("no certificate: outside the mesh; a verified leaf: its service; else rejected with why", () => {
    expect(peerOf(undefined, null, false, TD)).toEqual({ kind: "plain" });
    expect(peerOf({}, null, false, TD)).toEqual({ kind: "plain" });
    expect(peerOf({ subjectaltname: `URI:spiffe://${TD}/ns/default/svc/web` }, null, true, TD)).toEqual({ kind: "service", service: "web", uri: `spiffe://${TD}/ns/default/svc/web` });
    expect(peerOf({ subjectaltname: `URI:spiffe://${TD}/ns/default/svc/web` }, { message: "certificate has expired" }, false, TD)).toEqual({ kind: "rejected", why: "certificate has expired" });
    expect(peerOf({ subjectaltname: `URI:spiffe://${TD}/ns/default/svc/web` }, null, false, TD).kind).toBe("rejected");
    expect(peerOf({ subjectaltname: "URI:spiffe://other.example/ns/default/svc/web" }, null, true, TD)).toEqual({ kind: "rejected", why: `the certificate names no service of trust domain ${TD}` });
  });
});

describe("the caller's token in a request head (as core/acl/secret.ts requestToken reads it)", () => {
  test("?token= first, then X-Consul-Token, X-Corral-Token, Authorization: Bearer", () => {
    expect(headToken(head("GET /x?token=q HTTP/1.1\r\nhost: a\r\nx-consul-token: c\r\n\r\n"))).toBe("q");
    expect(headToken(head("GET /x HTTP/1.1\r\nhost: a\r\nx-corral-token: r\r\nx-consul-token: c\r\n\r\n"))).toBe("c");
    expect(headToken(head("GET /x HTTP/1.1\r\nhost: a\r\nx-corral-token: r\r\n\r\n"))).toBe("r");
    const uuid = "0e8d6c4a-3b1f-4c2d-9e7a-5f6b7c8d9e0f";
    expect(headToken(head(`GET /x HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${uuid}\r\n\r\n`))).toBe(uuid);
    // Any other bearer is the backend's own (credentials.ts passes it on): not the caller's corral token.
    expect(headToken(head("GET /x HTTP/1.1\r\nhost: a\r\nauthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln\r\n\r\n"))).toBeUndefined();
    expect(headToken(head("GET /x HTTP/1.1\r\nhost: a\r\n\r\n"))).toBeUndefined();
    expect(headToken(head("GET http://svc/x?token=abs HTTP/1.1\r\nhost: a\r\n\r\n"))).toBe("abs");
  });

  test("a percent-encoded ?token= is the caller's token, as the API reads it (not an anonymous call)", () => {
    expect(headToken(head("GET /x?tok%65n=q HTTP/1.1\r\nhost: a\r\nx-consul-token: c\r\n\r\n"))).toBe("q");
    expect(headToken(head("GET /x?keep=1&%74oken=q HTTP/1.1\r\nhost: a\r\n\r\n"))).toBe("q");
    expect(headToken(head("GET /x?a=%20 HTTP/1.1\r\nhost: a\r\nx-consul-token: c\r\n\r\n"))).toBe("c");
  });
});

describe("what crosses the mesh", () => {
  const h = head("GET /x HTTP/1.1\r\nhost: files\r\nx-forwarded-client-cert: URI=spiffe://forged/ns/default/svc/admin\r\nx-corral-mesh-service: secret\r\nX-Corral-Mesh-Instance: i\r\nx-other: kept\r\n\r\n");
  test("with the mesh, a caller's identity fields are dropped; without it they pass untouched", () => {
    const mesh = upstreamPrefix(h, "/x", { ip: "", traceparent: "tp", mesh: true });
    expect(mesh).not.toMatch(/x-forwarded-client-cert|x-corral-mesh/i);
    expect(mesh).toContain("x-other: kept");
    const plain = upstreamPrefix(h, "/x", { ip: "", traceparent: "tp" });
    expect(plain).toContain("x-forwarded-client-cert: URI=spiffe://forged/ns/default/svc/admin");
    expect(plain).toContain("X-Corral-Mesh-Instance: i");
  });
});
