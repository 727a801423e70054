// The service mesh between real processes (docs/mesh.md): a leader and two
// agents with ACLs on (default deny) and the mesh on, each agent on its own
// loopback address. A caller on agent A calls services whose instances run
// on agent B: the call crosses from A's agent to B's over mutual TLS with the
// caller's service certificate (its token's service identity decides which),
// and B's agent checks the intention. Checked as a user and an attacker see it:
//   - an allowed call passes, and the instance learns the caller from the certificate;
//   - a denied call is refused by B's agent (B's denial counter moves, A's does not);
//   - a caller forging its service in headers is refused;
//   - a certificate from another CA, and an expired leaf, are refused by B's listener;
//   - a caller outside the mesh (no certificate) gets the default policy (deny).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { eventually, getJson, killAll, sleep, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { call } from "../acl/helpers.ts";
import { startMeshCluster } from "./mesh-cluster.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../invoke/helpers.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/mesh.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");
const SECRET = "mesh-secret-0123456789abcdef";

let leader: CorralProcess;
let a: CorralProcess;
let b: CorralProcess;
let m = "";
let meshPort = 0;
let portA = 0;
let td = "";
let roots: string[] = [];
const tokens: Record<string, string> = {};

async function metric(node: CorralProcess, line: string): Promise<number> {
  const text = (await getJson(`${node.url}/metrics`, { headers: { "x-consul-token": m } })).body as string;
  const hit = text.split("\n").find((l) => l.startsWith(line));
  return hit ? Number(hit.slice(line.length).trim()) : 0;
}

/** A direct mTLS request to B's mesh listener, as an attacker on the network would send one. */
function direct(service: string, tls: Record<string, unknown>, headers: Record<string, string> = {}) {
  return getJson(`https://127.0.0.3:${meshPort}/echo`, {
    headers: { ...headers, "x-corral-mesh-service": service },
    tls: { ca: roots, checkServerIdentity: () => undefined, ...tls },
  } as RequestInit);
}

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  ({ leader, a, b, management: m, meshPort } = await startMeshCluster({ secret: SECRET, names: ["mesh-a", "mesh-b"], heartbeat: "300ms" }));
  for (const svc of ["files", "secret"]) await register(b, svc, await startBackend(svc), { token: m });
  await waitPassing(leader, "files", 1, 10_000, m);
  await waitPassing(leader, "secret", 1, 10_000, m);
  for (const [src, dst, action] of [["web", "files", "allow"], ["web", "secret", "deny"], ["api", "secret", "allow"]] as const) {
    expect((await call(leader.url, "PUT", `/v1/connect/intentions/exact?source=${src}&destination=${dst}`, m, { Action: action })).status).toBe(200);
  }
  // Callers: tokens whose service identity is their service (a task's workload token is the same: its task's service).
  for (const svc of ["web", "api"]) {
    const p = await call(leader.url, "PUT", "/v1/acl/policy", m, { Name: `${svc}-caller`, Rules: `service "${svc}" { policy = "write" }\nservice_prefix "" { policy = "read" }` });
    expect(p.status).toBe(200);
    const t = await call(leader.url, "PUT", "/v1/acl/token", m, { Description: svc, Policies: [{ Name: `${svc}-caller` }], ServiceIdentities: [{ ServiceName: svc }] });
    tokens[svc] = t.body.SecretID;
  }
  portA = await proxyPort(a, m);
  const r = (await getJson(`${a.url}/v1/agent/connect/ca/roots`)).body;
  td = r.TrustDomain;
  roots = [...r.Roots.map((x: { RootCert: string }) => x.RootCert)];
}, 90_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

describe.skipIf(!HAVE_OPENSSL)("service mesh", () => {
  test("an allowed call crosses to B's agent over mTLS; the instance sees the caller's SPIFFE ID, never its token", async () => {
    const r = await eventually(async () => {
      const x = await getJson(`http://127.0.0.1:${portA}/echo`, { headers: { host: "files", "x-consul-token": tokens.web! } });
      return x.status === 200 ? x : undefined;
    }, 15_000);
    expect(r.body.id).toBe("files");
    expect(r.body.headers["x-forwarded-client-cert"]).toBe(`URI=spiffe://${td}/ns/default/svc/web`);
    expect(r.body.headers["x-consul-token"]).toBeUndefined();
    expect(r.body.headers["x-corral-mesh-service"]).toBeUndefined();
    expect(await metric(b, 'corral_invoke_mesh_handshakes_total{peer="service"}')).toBeGreaterThan(0);
    // The API route goes the same way.
    const api = await getJson(`${a.url}/v1/invoke/files/echo`, { headers: { "x-consul-token": tokens.web! } });
    expect([api.status, api.body.headers?.["x-forwarded-client-cert"]]).toEqual([200, `URI=spiffe://${td}/ns/default/svc/web`]);
  }, 60_000);

  test("a denied call is refused by the destination's agent", async () => {
    const before = await metric(b, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}');
    const r = await getJson(`http://127.0.0.1:${portA}/echo`, { headers: { host: "secret", "x-consul-token": tokens.web! } });
    expect([r.status, r.body.code, r.body.reason]).toEqual([403, "INTENTION_DENIED", "intention web => secret (deny)"]);
    expect(await metric(b, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}')).toBe(before + 1);
    expect(await metric(a, 'corral_invoke_mesh_denials_total{source="web",destination="secret"}')).toBe(0);
    // api => secret is allowed: the same path works for the caller the intention names.
    const ok = await getJson(`http://127.0.0.1:${portA}/echo`, { headers: { host: "secret", "x-consul-token": tokens.api! } });
    expect([ok.status, ok.body.headers?.["x-forwarded-client-cert"]]).toEqual([200, `URI=spiffe://${td}/ns/default/svc/api`]);
  }, 60_000);

  test("a caller forging its service in headers is refused", async () => {
    const forged = { "x-forwarded-client-cert": `URI=spiffe://${td}/ns/default/svc/api`, "x-corral-mesh-service": "secret", "x-corral-mesh-source": "api" };
    const r = await getJson(`http://127.0.0.1:${portA}/echo`, { headers: { host: "secret", "x-consul-token": tokens.web!, ...forged } });
    expect([r.status, r.body.code]).toEqual([403, "INTENTION_DENIED"]);
    // Without a certificate at all, straight to B's listener: outside the mesh, default deny.
    const plain = await direct("secret", {}, forged);
    expect([plain.status, plain.body.code]).toEqual([403, "INTENTION_DENIED"]);
    expect(plain.body.reason).toMatch(/default policy deny/);
    // With web's own certificate, claiming api in headers: judged as web.
    const leaf = (await getJson(`${a.url}/v1/agent/connect/ca/leaf/web`, { headers: { "x-consul-token": m } })).body;
    const asWeb = await direct("secret", { cert: leaf.CertPEM, key: leaf.PrivateKeyPEM }, forged);
    expect([asWeb.status, asWeb.body.reason]).toEqual([403, "intention web => secret (deny)"]);
    const allowed = await direct("files", { cert: leaf.CertPEM, key: leaf.PrivateKeyPEM }, forged);
    expect([allowed.status, allowed.body.headers?.["x-forwarded-client-cert"]]).toEqual([200, `URI=spiffe://${td}/ns/default/svc/web`]);
  }, 60_000);

  test("a certificate from another CA is refused", async () => {
    const dir = tempDir("corral-mesh-rogue-");
    const run = (...args: string[]) => expect(spawnSync("openssl", args, { cwd: dir, encoding: "utf8" }).status).toBe(0);
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=rogue");
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=api");
    const ext = join(dir, "ext.cnf");
    await Bun.write(ext, `subjectAltName = URI:spiffe://${td}/ns/default/svc/api\nextendedKeyUsage = clientAuth\n`);
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "1", "-extfile", ext);
    const r = await direct("secret", { cert: readFileSync(join(dir, "leaf.pem"), "utf8"), key: readFileSync(join(dir, "leaf.key"), "utf8") });
    expect([r.status, r.body.code]).toEqual([403, "MESH_CERT_REJECTED"]);
  }, 60_000);

  test("an expired leaf is refused", async () => {
    const leaf = (await getJson(`${a.url}/v1/agent/connect/ca/leaf/api?ttl=1s`, { headers: { "x-consul-token": m } })).body;
    expect(typeof leaf.CertPEM).toBe("string");
    // Backdated a minute for clock skew: it expires 1 s after it was made.
    await sleep(Math.max(0, Date.parse(leaf.ValidBefore) - Date.now()) + 1500);
    const r = await direct("secret", { cert: leaf.CertPEM, key: leaf.PrivateKeyPEM });
    expect([r.status, r.body.code]).toEqual([403, "MESH_CERT_REJECTED"]);
    expect(r.body.error).toMatch(/expired/i);
  }, 60_000);

  test("after a rotation, calls go on and a leaf of the new root is accepted at once (through the cross-signed root)", async () => {
    const rotated = await call(leader.url, "POST", "/v1/operator/connect/ca/rotate", m);
    expect(rotated.status).toBe(200);
    expect(rotated.body.Roots).toHaveLength(2);
    // A's cached leaf (old root) still works: B trusts the old root until its leaves expire.
    const r = await getJson(`http://127.0.0.1:${portA}/echo`, { headers: { host: "files", "x-consul-token": tokens.web! } });
    expect(r.status).toBe(200);
    // A new leaf, straight away: its chain carries the new root cross-signed by the old one.
    const leaf = (await getJson(`${a.url}/v1/agent/connect/ca/leaf/web`, { headers: { "x-consul-token": m } })).body;
    expect(leaf.CertPEM.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const fresh = await direct("files", { cert: leaf.CertPEM, key: leaf.PrivateKeyPEM });
    expect([fresh.status, fresh.body.headers?.["x-forwarded-client-cert"]]).toEqual([200, `URI=spiffe://${td}/ns/default/svc/web`]);
  }, 60_000);

  test("a mesh peer cannot make the destination's agent fetch another host (request target must be a path)", async () => {
    const leaf = (await getJson(`${a.url}/v1/agent/connect/ca/leaf/web`, { headers: { "x-consul-token": m } })).body;
    const raw = (target: string) => new Promise<string>((resolve, reject) => {
      const sock = tlsConnect({ host: "127.0.0.3", port: meshPort, cert: leaf.CertPEM, key: leaf.PrivateKeyPEM, ca: roots, checkServerIdentity: () => undefined, ALPNProtocols: ["http/1.1"] }, () => {
        sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nx-corral-mesh-service: files\r\nConnection: close\r\n\r\n`);
      });
      let out = "";
      sock.on("data", (d: Buffer) => (out += d));
      sock.on("close", () => resolve(out));
      sock.on("error", reject);
    });
    // Appended to "http://<instance>", "@host:port/..." would make host:port the server, and an absolute URL is no path.
    for (const target of [`@127.0.0.1:${leader.port}/v1/agent/self`, `http://127.0.0.1:${leader.port}/v1/agent/self`]) {
      const head = await raw(target);
      expect({ target, head: head.split("\r\n")[0] }).toEqual({ target, head: "HTTP/1.1 400 Bad Request" });
    }
  }, 60_000);
});
