// gRPC (HTTP/2) across the mesh between real processes (docs/mesh.md,
// "HTTP/2 and gRPC"): a leader and two agents with ACLs on (default deny) and
// the mesh on, each agent on its own loopback address, real grpc-js servers
// registered on agent B. Checked as a source agent and an attacker see it:
//   - a grpc-js client presenting web's leaf to B's mesh port with ALPN h2
//     (what a source agent does): unary, server-streaming and bidi pass, the
//     instance learns the caller from the certificate (never from a header),
//     and a NOT_FOUND with trailing metadata comes back as the server sent it;
//   - a denied intention is PERMISSION_DENIED naming it, counted by B;
//   - no certificate, with default deny: PERMISSION_DENIED; a certificate of
//     another CA: refused; no instance on B: UNAVAILABLE;
//   - a plain (non-gRPC) h2 caller gets the JSON refusals of HTTP/1.1;
//   - end to end: a grpc-js client on agent A's proxy listener (h2c) reaches
//     the instance on B across the mesh as its token's service.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import http2 from "node:http2";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, getJson, killAll, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { call } from "../acl/helpers.ts";
import { startMeshCluster } from "./mesh-cluster.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing, type InvokeStatus } from "../invoke/helpers.ts";
import { echoClient, grpc, killGrpcBackends, metadata, startGrpcBackend, unary, unaryError, type EchoClient, type EchoReply } from "../invoke/grpc-helpers.ts";
import { loadEcho } from "../invoke/grpc-proto.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/mesh-grpc.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");
const SECRET = "mesh-grpc-secret-0123456789abcdef";

let leader: CorralProcess;
let a: CorralProcess;
let b: CorralProcess;
let m = "";
let meshPort = 0;
let td = "";
let roots: string[] = [];
let webLeaf = { cert: "", key: "" };
const tokens: Record<string, string> = {};
const clients: EchoClient[] = [];

async function metric(node: CorralProcess, line: string): Promise<number> {
  const text = (await getJson(`${node.url}/metrics`, { headers: { "x-consul-token": m } })).body as string;
  const hit = text.split("\n").find((l) => l.startsWith(line));
  return hit ? Number(hit.slice(line.length).trim()) : 0;
}

/** A grpc-js client straight to B's mesh port over TLS (ALPN h2), with `leaf` as its client certificate (none: outside the mesh). */
function meshClient(leaf?: { cert: string; key: string }): EchoClient {
  const Echo = loadEcho();
  const creds = grpc.credentials.createSsl(
    Buffer.from(roots.join("\n")), leaf ? Buffer.from(leaf.key) : null, leaf ? Buffer.from(leaf.cert) : null,
    // B presents its agent leaf (a SPIFFE ID, no IP SAN): the chain is checked, the name is not.
    { checkServerIdentity: () => undefined },
  );
  // grpc-js would send the IP address as the TLS server name, which Bun refuses: name the agent instead.
  const c = new Echo(`127.0.0.3:${meshPort}`, creds, { "grpc.ssl_target_name_override": "mesh.corral" }) as EchoClient;
  clients.push(c);
  return c;
}

/** The mesh headers a source agent sets: the service, and a header forging another caller (never believed). */
const to = (service: string) => metadata({ "x-corral-mesh-service": service, "x-forwarded-client-cert": `URI=spiffe://${td}/ns/default/svc/api` });

/** A plain (non-gRPC) HTTP/2 request to B's mesh port: status and JSON body. */
async function plainH2(service: string, tls: { cert?: string; key?: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const s = http2.connect(`https://127.0.0.3:${meshPort}`, { ca: roots, ...tls, checkServerIdentity: () => undefined } as http2.SecureClientSessionOptions);
  try {
    const req = s.request({ ":path": "/echo", "x-corral-mesh-service": service });
    req.end();
    let status = 0;
    let text = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (d: Buffer) => (text += d));
    await new Promise((r, j) => (req.on("end", r), req.on("error", j)));
    return { status, body: text.startsWith("{") ? JSON.parse(text) : { text } };
  } finally {
    s.close();
  }
}

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  ({ leader, a, b, management: m, meshPort } = await startMeshCluster({ secret: SECRET, names: ["grpc-a", "grpc-b"], heartbeat: "300ms" }));
  for (const svc of ["files", "secret"]) await register(b, svc, await startGrpcBackend(svc), { token: m });
  // "gone": registered on B, its process killed: B's agent cannot reach it.
  const gone = await startGrpcBackend("gone");
  await register(b, "gone", gone, { token: m });
  await gone.kill();
  // "plain": two HTTP/1.1-only instances on B (so A's breaker could eject one, were "no h2" counted against them).
  for (const id of ["p1", "p2"]) await register(b, "plain", await startBackend(id), { token: m });
  for (const svc of ["files", "secret", "gone"]) await waitPassing(leader, svc, 1, 10_000, m);
  await waitPassing(leader, "plain", 2, 10_000, m);
  for (const [src, dst, action] of [["web", "files", "allow"], ["web", "secret", "deny"], ["web", "gone", "allow"], ["web", "plain", "allow"]] as const) {
    expect((await call(leader.url, "PUT", `/v1/connect/intentions/exact?source=${src}&destination=${dst}`, m, { Action: action })).status).toBe(200);
  }
  const p = await call(leader.url, "PUT", "/v1/acl/policy", m, { Name: "web-caller", Rules: `service "web" { policy = "write" }\nservice_prefix "" { policy = "read" }` });
  expect(p.status).toBe(200);
  tokens.web = (await call(leader.url, "PUT", "/v1/acl/token", m, { Description: "web", Policies: [{ Name: "web-caller" }], ServiceIdentities: [{ ServiceName: "web" }] })).body.SecretID;
  const r = (await getJson(`${a.url}/v1/agent/connect/ca/roots`)).body;
  td = r.TrustDomain;
  roots = r.Roots.map((x: { RootCert: string }) => x.RootCert);
  const leaf = (await getJson(`${a.url}/v1/agent/connect/ca/leaf/web`, { headers: { "x-consul-token": m } })).body;
  webLeaf = { cert: leaf.CertPEM, key: leaf.PrivateKeyPEM };
  // B's mesh listener starts once the CA answers (asked over HTTP/1.1: the h2 side is what the tests judge).
  await eventually(async () => {
    const r = await getJson(`https://127.0.0.3:${meshPort}/`, { headers: { "x-corral-mesh-service": "files" }, tls: { ca: roots, ...webLeaf, checkServerIdentity: () => undefined } } as RequestInit).catch(() => undefined);
    return r && r.status > 0;
  }, 20_000);
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await killGrpcBackends();
  await killBackends();
  await killAll();
});

/** A server-streaming call of `count` messages, collected. */
function serverStream(c: EchoClient, count: number, md: ReturnType<typeof metadata>): Promise<EchoReply[]> {
  return new Promise((resolve, reject) => {
    const got: EchoReply[] = [];
    const call = c.ServerStream({ message: "s", count }, md);
    call.on("data", (x: EchoReply) => got.push(x));
    call.on("error", reject);
    call.on("end", () => resolve(got));
  });
}

/** A bidi call of three messages, each sent once the previous echo came back: `echo|peer` as the instance saw it. */
function bidiThree(c: EchoClient, md: ReturnType<typeof metadata>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const call = c.Bidi(md);
    call.on("data", (x: EchoReply) => {
      got.push(`${x.message}|${x.peer}`);
      if (got.length < 3) call.write({ message: `m${got.length}` });
      else call.end();
    });
    call.on("error", reject);
    call.on("end", () => resolve(got));
    call.write({ message: "m0" });
  });
}

describe.skipIf(!HAVE_OPENSSL)("gRPC across the mesh: B's mesh listener, ALPN h2", () => {
  test("allowed: unary, server-streaming and bidi reach the instance, which sees the certificate's caller", async () => {
    const c = meshClient(webLeaf);
    const me = `URI=spiffe://${td}/ns/default/svc/web`;
    const r = await unary(c, "hi", to("files"));
    expect([r.id, r.message, r.peer]).toEqual(["files", "hi", me]);
    const stream = await serverStream(c, 50, to("files"));
    expect(stream.map((x) => x.message)).toEqual(Array.from({ length: 50 }, (_, i) => `s#${i}`));
    const bidi = await bidiThree(c, to("files"));
    expect(bidi).toEqual([`echo:m0|${me}`, `echo:m1|${me}`, `echo:m2|${me}`]);
    expect(await metric(b, 'corral_invoke_mesh_handshakes_total{peer="service"}')).toBeGreaterThan(0);
  }, 60_000);

  test("the instance's NOT_FOUND, its message and trailing metadata come back as sent", async () => {
    const err = await unaryError(meshClient(webLeaf), "notfound", to("files"));
    expect([err.code, err.details, err.metadata.get("x-detail")]).toEqual([grpc.status.NOT_FOUND, "nothing named notfound on files", ["no such thing"]]);
  }, 60_000);

  test("a denied intention: PERMISSION_DENIED naming it, counted by the destination", async () => {
    const before = await metric(b, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}');
    const err = await unaryError(meshClient(webLeaf), "x", to("secret"));
    expect([err.code, err.details]).toEqual([grpc.status.PERMISSION_DENIED, 'calling "secret" is not allowed: intention web => secret (deny)']);
    expect(await metric(b, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}')).toBe(before + 1);
  }, 60_000);

  test("no certificate (outside the mesh), default deny: PERMISSION_DENIED, whatever the headers claim", async () => {
    const err = await unaryError(meshClient(), "x", to("files"));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toMatch(/default policy deny/);
  }, 60_000);

  test("B's agent cannot reach the instance: UNAVAILABLE from B", async () => {
    const err = await unaryError(meshClient(webLeaf), "x", to("gone"));
    // B's agent answered it (not a connection that failed on the way to B).
    expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, 'the instance of "gone" could not be reached']);
    // Saying so to the source agent, which judges it as a direct attempt that failed.
    expect(err.metadata.get("x-corral-mesh-failure")).toEqual(["refused"]);
  }, 60_000);

  test("a plain HTTP/2 caller gets the JSON refusals; a certificate of another CA is refused", async () => {
    const denied = await plainH2("secret", webLeaf);
    expect([denied.status, denied.body.code, denied.body.reason]).toEqual([403, "INTENTION_DENIED", "intention web => secret (deny)"]);
    expect((await plainH2("Not A Service!", webLeaf)).body.code).toBe("NO_SERVICE");

    const dir = tempDir("corral-mesh-grpc-rogue-");
    const run = (...args: string[]) => expect(spawnSync("openssl", args, { cwd: dir, encoding: "utf8" }).status).toBe(0);
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=rogue");
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=web");
    await Bun.write(join(dir, "ext.cnf"), `subjectAltName = URI:spiffe://${td}/ns/default/svc/web\nextendedKeyUsage = clientAuth\n`);
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "1", "-extfile", "ext.cnf");
    const rogue = { cert: readFileSync(join(dir, "leaf.pem"), "utf8"), key: readFileSync(join(dir, "leaf.key"), "utf8") };
    const plain = await plainH2("files", rogue);
    expect([plain.status, plain.body.code]).toEqual([403, "MESH_CERT_REJECTED"]);
    const err = await unaryError(meshClient(rogue), "x", to("files"));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toMatch(/mesh certificate refused/);
  }, 60_000);
});

describe.skipIf(!HAVE_OPENSSL)("gRPC across the mesh end to end: a grpc-js client on agent A's proxy listener (h2c)", () => {
  let portA = 0;
  const viaA = (service: string): EchoClient => {
    const c = echoClient(portA, service);
    clients.push(c);
    return c;
  };
  const asWeb = () => metadata({ "x-consul-token": tokens.web!, "x-forwarded-client-cert": `URI=spiffe://${td}/ns/default/svc/api`, "x-corral-mesh-service": "secret" });

  beforeAll(async () => {
    portA = await proxyPort(a, m);
  });

  test("allowed: the call reaches the instance on B as web (its token's service), never as a header claims; streams both ways", async () => {
    const me = `URI=spiffe://${td}/ns/default/svc/web`;
    const c = viaA("files");
    const r = await eventually(() => unary(c, "hi", asWeb()).catch(() => undefined), 15_000);
    // :authority reached the instance as X-Forwarded-Host, as without the mesh.
    expect([r.id, r.message, r.peer, r.token, r.authority]).toEqual(["files", "hi", me, "", "files"]);
    const handshakes = await metric(b, 'corral_invoke_mesh_handshakes_total{peer="service"}');
    const stream = await serverStream(c, 200, asWeb());
    expect(stream.map((x) => x.message)).toEqual(Array.from({ length: 200 }, (_, i) => `s#${i}`));
    const bidi = await bidiThree(c, asWeb());
    expect(bidi).toEqual([`echo:m0|${me}`, `echo:m1|${me}`, `echo:m2|${me}`]);
    // Every call of web went on A's one h2 session to B: no new handshake.
    expect(await metric(b, 'corral_invoke_mesh_handshakes_total{peer="service"}')).toBe(handshakes);
  }, 60_000);

  test("the instance's NOT_FOUND and trailing metadata cross both hops", async () => {
    const err = await unaryError(viaA("files"), "notfound", asWeb());
    expect([err.code, err.details, err.metadata.get("x-detail")]).toEqual([grpc.status.NOT_FOUND, "nothing named notfound on files", ["no such thing"]]);
  }, 60_000);

  test("denied: PERMISSION_DENIED decided by B's agent; no token: the default policy", async () => {
    const before = await metric(b, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}');
    const err = await unaryError(viaA("secret"), "x", asWeb());
    expect([err.code, err.details]).toEqual([grpc.status.PERMISSION_DENIED, 'calling "secret" is not allowed: intention web => secret (deny)']);
    expect(await metric(b, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}')).toBe(before + 1);
    expect(await metric(a, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}')).toBe(0);
    const anon = await unaryError(viaA("files"), "x");
    expect(anon.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(anon.details).toMatch(/default policy deny/);
  }, 60_000);

  test("an instance B cannot reach, or that speaks only HTTP/1.1: judged by A as direct attempts are (not as the instance's answer)", async () => {
    const gone = await unaryError(viaA("gone"), "x", asWeb());
    expect([gone.code, gone.details]).toEqual([grpc.status.UNAVAILABLE, 'no instance of "gone" could be reached (refused)']);
    const c = viaA("plain");
    for (let i = 0; i < 12; i++) {
      const err = await unaryError(c, "x", asWeb());
      expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, 'no instance of "plain" speaks HTTP/2 (h2c); call it over HTTP/1.1']);
    }
    // 12 calls, each trying both instances: past consecutive_failures (5) had they counted as failures.
    const st = (await getJson<InvokeStatus>(`${a.url}/v1/invoke-config/plain`, { headers: { "x-consul-token": m } })).body;
    expect(st.instances.map((i) => [i.breaker, i.ejections])).toEqual([["closed", 0], ["closed", 0]]);
  }, 60_000);
});
