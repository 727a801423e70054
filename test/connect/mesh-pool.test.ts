// The source side's pool of mTLS connections (fast/mesh-upstream.ts), seen
// from the destination: a dev node with ACLs on, the mesh on and an external
// CA whose key the test holds, and a service registered on a node at
// 127.0.0.5 where the test runs its own mesh "destination" (node:tls,
// client certificate requested) that answers each request with which
// connection carried it and the client certificate that connection showed.
//   - identities never share a connection: calls as web, api and with no
//     identity go over one connection each, reused by the same caller;
//   - a connection the destination dropped is replaced (the call passes);
//   - a destination whose certificate verifies but names another trust
//     domain, or one of another CA, gets no request.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { freePort, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call } from "../acl/helpers.ts";
import { proxyPort, waitPassing } from "../invoke/helpers.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/mesh-pool.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");
const FAR = "127.0.0.5";

let node: CorralProcess;
let m = "";
let td = "";
let port = 0;
let meshPort = 0;
let dir = "";
const tokens: Record<string, string> = {};

/** A leaf for the fake destination: signed by `ca` (the mesh's external CA, or a rogue one), naming `uri`. */
function leaf(name: string, ca: "ca" | "rogue", uri: string): { cert: string; key: string } {
  const run = (...args: string[]) => expect(spawnSync("openssl", args, { cwd: dir, encoding: "utf8" }).status).toBe(0);
  run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName = ${uri}\nextendedKeyUsage = serverAuth, clientAuth\n`);
  run("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`);
  return { cert: readFileSync(join(dir, `${name}.pem`), "utf8"), key: readFileSync(join(dir, `${name}.key`), "utf8") };
}

/** The fake destination: every answer says which connection carried it and what certificate that connection presented. */
class FakeDestination {
  requests = 0;
  private n = 0;
  private readonly socks = new Set<TLSSocket>();
  private readonly server: Server;

  constructor(cert: { cert: string; key: string }) {
    this.server = createServer({ ...cert, ca: [readFileSync(join(dir, "ca.pem"), "utf8")], requestCert: true, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, (s) => {
      const conn = ++this.n;
      const peer = (s.getPeerCertificate(false) as { subjectaltname?: string } | undefined)?.subjectaltname ?? "";
      this.socks.add(s);
      s.on("close", () => this.socks.delete(s));
      s.on("error", () => {});
      let buf = "";
      s.on("data", (d: Buffer) => {
        buf += d.toString("latin1");
        let end: number;
        while ((end = buf.indexOf("\r\n\r\n")) >= 0) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          this.requests++;
          const service = /\r\nx-corral-mesh-service: ([^\r]*)/i.exec(head)?.[1] ?? "";
          const body = JSON.stringify({ conn, peer, authorized: s.authorized, service });
          s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        }
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(meshPort, FAR, () => r()));
  }

  useCertificate(cert: { cert: string; key: string }): void {
    this.server.setSecureContext({ ...cert, ca: [readFileSync(join(dir, "ca.pem"), "utf8")] });
  }

  /** Drops every connection, as a destination agent restarting (or its idle sweep) would. */
  dropAll(): void {
    for (const s of this.socks) s.destroy();
  }

  close(): void {
    this.dropAll();
    this.server.close();
  }
}

let fake: FakeDestination;
const callAs = (who: string) => getJson(`http://127.0.0.1:${port}/x`, { headers: { host: "far-svc", ...(tokens[who] ? { "x-consul-token": tokens[who]! } : {}) } });

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  dir = tempDir("corral-mesh-pool-");
  const run = (...args: string[]) => expect(spawnSync("openssl", args, { cwd: dir, encoding: "utf8" }).status).toBe(0);
  for (const ca of ["ca", "rogue"]) {
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "30", "-subj", `/CN=${ca} mesh CA`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }
  spawnSync("chmod", ["600", join(dir, "ca.key")]);
  meshPort = await freePort();
  node = await startCorral({
    config: `[connect]\nca_cert_file = "${join(dir, "ca.pem")}"\nca_key_file = "${join(dir, "ca.key")}"\n\n${ACL_CONFIG}\n[plugins.invoke]\nport = 0\nmesh = true\nmesh_port = ${meshPort}\n`,
  });
  m = (await getJson(`${node.url}/v1/acl/bootstrap`, { method: "PUT" })).body.SecretID;
  td = (await getJson(`${node.url}/v1/agent/connect/ca/roots`)).body.TrustDomain;
  for (const svc of ["web", "api"]) {
    expect((await call(node.url, "PUT", "/v1/acl/policy", m, { Name: `${svc}-caller`, Rules: `service "${svc}" { policy = "write" }\nservice_prefix "" { policy = "read" }` })).status).toBe(200);
    tokens[svc] = (await call(node.url, "PUT", "/v1/acl/token", m, { Description: svc, Policies: [{ Name: `${svc}-caller` }], ServiceIdentities: [{ ServiceName: svc }] })).body.SecretID;
  }
  // far-svc's instance is on node "far" (127.0.0.5): its calls go to FAR:meshPort, where the fake destination listens.
  expect((await call(node.url, "PUT", "/v1/catalog/register", m, { Node: "far", Address: FAR, Service: { ID: "far-1", Service: "far-svc", Port: 9 } })).status).toBe(200);
  await waitPassing(node, "far-svc", 1, 10_000, m);
  port = await proxyPort(node, m);
  fake = new FakeDestination(leaf("far", "ca", `URI:spiffe://${td}/ns/default/svc/corral-agent.far`));
  await fake.listen();
}, 90_000);

afterAll(async () => {
  fake?.close();
  await killAll();
});

describe.skipIf(!HAVE_OPENSSL)("the mesh's connection pool", () => {
  test("identities never share a connection; each caller's connection is reused and shows its own certificate", async () => {
    const spiffe = (svc: string) => `URI:spiffe://${td}/ns/default/svc/${svc}`;
    const seen = [];
    for (const who of ["web", "web", "api", "web", "api", "nobody"]) {
      const r = await callAs(who);
      expect(r.status).toBe(200);
      seen.push({ who, ...r.body });
    }
    const [web1, web2, api1, web3, api2, none] = seen as { conn: number; peer: string; authorized: boolean; service: string }[];
    expect([web1!.peer, web2!.peer, web3!.peer]).toEqual([spiffe("web"), spiffe("web"), spiffe("web")]);
    expect([api1!.peer, api2!.peer]).toEqual([spiffe("api"), spiffe("api")]);
    expect([web1!.authorized, api1!.authorized]).toEqual([true, true]);
    // No service identity: no certificate at all, on a connection of its own.
    expect(none!.peer).toBe("");
    expect(web2!.conn).toBe(web1!.conn);
    expect(web3!.conn).toBe(web1!.conn);
    expect(api2!.conn).toBe(api1!.conn);
    expect(new Set([web1!.conn, api1!.conn, none!.conn]).size).toBe(3);
    expect(web1!.service).toBe("far-svc");
  }, 60_000);

  test("a connection the destination dropped is replaced: the next call passes on a new one", async () => {
    const first = await callAs("web");
    const again = await callAs("web");
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body.conn).toBe(first.body.conn);
    fake.dropAll();
    await Bun.sleep(200);
    const after = await callAs("web");
    expect(after.status).toBe(200);
    expect(after.body.conn).not.toBe(first.body.conn);
    expect(after.body.peer).toBe(`URI:spiffe://${td}/ns/default/svc/web`);
    // Dropped while the source still holds it as idle (no time to notice): the call still passes.
    fake.dropAll();
    const stale = await callAs("web");
    expect(stale.status).toBe(200);
  }, 60_000);

  test("a destination whose certificate names another trust domain, or comes from another CA, gets no request", async () => {
    for (const [name, ca, uri] of [["other-td", "ca", "URI:spiffe://other.example/ns/default/svc/corral-agent.far"], ["rogue-leaf", "rogue", `URI:spiffe://${td}/ns/default/svc/corral-agent.far`]] as const) {
      fake.useCertificate(leaf(name, ca, uri));
      fake.dropAll(); // pooled connections were made with the good certificate
      await Bun.sleep(100);
      const before = fake.requests;
      const r = await callAs("web");
      expect({ name, status: r.status, code: r.body.code }).toEqual({ name, status: 502, code: "UPSTREAM_UNAVAILABLE" });
      expect(fake.requests).toBe(before);
    }
  }, 60_000);
});
