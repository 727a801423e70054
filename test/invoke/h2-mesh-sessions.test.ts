// The mesh's source side for HTTP/2 (plugins/invoke/h2/mesh-sessions.ts), in
// process over real TLS sockets: a stand-in destination agent (node:tls with
// ALPN h2 and a client certificate asked for, a node:http2 server behind it)
// with certificates made by corral's own x509.ts. What the destination sees:
//   - each caller identity presents its own leaf on a connection of its own;
//     a caller's calls share one; a renewed leaf opens a new one;
//   - no identity (an unknown token): no client certificate;
//   - every stream names the service and instance the source chose, and a
//     caller's X-Forwarded-Client-Cert never crosses;
//   - a destination whose certificate is not of the trust domain is refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import tls from "node:tls";
import { newKeyPair, selfSignedRoot, signLeaf } from "../../core/connect/x509.ts";
import type { MeshAuthorizer } from "../../plugins/invoke/authorize.ts";
import { MeshH2Sessions } from "../../plugins/invoke/h2/mesh-sessions.ts";
import type { SessionResult } from "../../plugins/invoke/h2/sessions.ts";
import type { LeafPair, MeshIdentity, Trust } from "../../plugins/invoke/mesh-identity.ts";
import { Endpoint } from "../../plugins/invoke/pool.ts";

const TD = "11111111-2222-3333-4444-555555555555.corral";
let root = "";
let rootKeys = newKeyPair();
let port = 0;
let server: tls.Server;
/** The client certificate's SAN of each connection the destination accepted ("" = none). */
const connections: string[] = [];
const PEER = Symbol("peer");

async function leafFor(service: string, hours = 1): Promise<LeafPair> {
  const keys = newKeyPair();
  const now = Date.now();
  const notAfter = new Date(now + hours * 3600_000);
  const l = await signLeaf({ rootPem: root, rootKeys, publicKeyPem: keys.publicKeyPem, service, spiffeId: `spiffe://${TD}/ns/default/svc/${service}`, notBefore: new Date(now - 60_000), notAfter });
  return { cert: l.pem, key: keys.privateKeyPem, service, notAfter: notAfter.getTime(), renewAt: now + (hours * 3600_000) / 2 };
}

const leaves = new Map<string, LeafPair>();
const identity = (trustDomain: string) => ({
  roots: async (): Promise<Trust> => ({ trustDomain, ca: [root], version: "v1" }),
  leaf: async (service: string) => leaves.get(service)!,
}) as unknown as MeshIdentity;
const authorizer: MeshAuthorizer = {
  callerOf: async (token) => ({ "t-web": "web", "t-api": "api" } as Record<string, string>)[token ?? ""],
  authorizeSource: async () => ({ allowed: true, reason: "" }),
};
const ep = new Endpoint({ key: "n2/files-1", node: "n2", serviceId: "files-1", address: "10.255.0.9", nodeAddress: "127.0.0.1", port: 9, weight: 1 }, Date.now());

beforeAll(async () => {
  root = (await selfSignedRoot({ keys: rootKeys, trustDomain: TD, cn: "test root", notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3600_000) })).pem;
  for (const s of ["web", "api"]) leaves.set(s, await leafFor(s));
  const agent = await leafFor("corral-agent.n2");
  const h2 = http2.createServer();
  h2.on("stream", (stream, headers) => {
    const peer = (stream.session?.socket as unknown as Record<symbol, string>)[PEER];
    stream.respond({ ":status": 200, "content-type": "application/json" });
    stream.end(JSON.stringify({ peer, headers }));
  });
  server = tls.createServer({ cert: agent.cert, key: agent.key, ca: [root], requestCert: true, rejectUnauthorized: false, ALPNProtocols: ["h2"] }, (sock) => {
    const san = sock.authorized ? String((sock.getPeerCertificate() as { subjectaltname?: string }).subjectaltname ?? "") : "";
    (sock as unknown as Record<symbol, string>)[PEER] = san;
    connections.push(san);
    h2.emit("connection", sock);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as { port: number }).port;
});

afterAll(() => {
  sessions.close();
  server.close();
});

const sessions = new MeshH2Sessions({ identity: identity(TD), authorizer, meshPort: () => port });

/** One call as the holder of `token`, to `service`: what the destination received. */
async function callAs(s: MeshH2Sessions, token: string | undefined, service: string): Promise<{ peer: string; headers: Record<string, string> } | SessionResult> {
  const route = await s.route(token, service);
  const session = await new Promise<SessionResult>((r) => route.session(ep, r));
  if (typeof session === "string") return session;
  const req = session.request(route.head(ep, { ":method": "GET", ":path": "/x", ":scheme": "https", "x-forwarded-client-cert": `URI=spiffe://${TD}/ns/default/svc/admin` }), { endStream: true });
  route.track(session, req);
  let text = "";
  req.on("data", (d: Buffer) => (text += d));
  await new Promise((r, j) => (req.on("end", r), req.on("error", j)));
  return JSON.parse(text);
}

test("each identity on its own connection with its own leaf; the mesh headers set, the caller's XFCC dropped", async () => {
  const web = await callAs(sessions, "t-web", "Files");
  expect(typeof web).toBe("object");
  const w = web as { peer: string; headers: Record<string, string> };
  expect(w.peer).toBe(`URI:spiffe://${TD}/ns/default/svc/web`);
  expect([w.headers["x-corral-mesh-service"], w.headers["x-corral-mesh-instance"], w.headers["x-forwarded-client-cert"], w.headers[":authority"]] as unknown[]).toEqual(["files", "files-1", undefined, `127.0.0.1:${port}`]);
  expect(connections).toHaveLength(1);
  // The same caller again: the same connection.
  expect(((await callAs(sessions, "t-web", "files")) as { peer: string }).peer).toBe(`URI:spiffe://${TD}/ns/default/svc/web`);
  expect(connections).toHaveLength(1);
  // Another identity: a connection of its own, presenting its own leaf.
  expect(((await callAs(sessions, "t-api", "files")) as { peer: string }).peer).toBe(`URI:spiffe://${TD}/ns/default/svc/api`);
  expect(connections).toEqual([`URI:spiffe://${TD}/ns/default/svc/web`, `URI:spiffe://${TD}/ns/default/svc/api`]);
});

test("an unknown token: no identity, no client certificate", async () => {
  const before = connections.length;
  expect(((await callAs(sessions, "t-nobody", "files")) as { peer: string }).peer).toBe("");
  expect(connections.slice(before)).toEqual([""]);
});

test("a renewed leaf opens a new connection with it", async () => {
  leaves.set("web", await leafFor("web", 2));
  const before = connections.length;
  expect(((await callAs(sessions, "t-web", "files")) as { peer: string }).peer).toBe(`URI:spiffe://${TD}/ns/default/svc/web`);
  expect(connections.length).toBe(before + 1);
});

test("a destination whose certificate is not of this trust domain is refused: nothing is sent", async () => {
  const other = new MeshH2Sessions({ identity: identity("other.corral"), authorizer, meshPort: () => port });
  try {
    expect(await callAs(other, "t-web", "files")).toBe("refused");
  } finally {
    other.close();
  }
});
