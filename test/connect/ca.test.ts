// The mesh CA (docs/mesh.md) on real processes, checked with openssl: a dev
// node's roots and leaves in Consul's shapes; a leaf with the service's
// SPIFFE ID that verifies against the root; rotation through the CLI with a
// cross-signed new root (old leaves still verify, new leaves verify against
// the old root through the cross-signed certificate); no private key in
// clear in the data dir; an agent gets leaves through a leader; leaves need
// service:write on their service when ACLs are on.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, freePort, getJson, killAll, startCorral, tempDir, eventually } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith } from "../acl/helpers.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/ca.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");

afterAll(() => killAll());

const dir = tempDir("corral-ca-");
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const openssl = (...args: string[]) => {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
};
function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe.skipIf(!HAVE_OPENSSL)("mesh CA", () => {
  test("dev node: roots, a SPIFFE leaf openssl verifies, rotation with cross-signing, no key in clear", async () => {
    const node = await startCorral();
    const roots = await getJson(`${node.url}/v1/connect/ca/roots`);
    expect(roots.status).toBe(200);
    expect(roots.body.TrustDomain).toMatch(/^[0-9a-f-]{36}\.corral$/);
    expect(roots.body.Roots).toHaveLength(1);
    const root1 = roots.body.Roots[0];
    expect(root1).toMatchObject({ ID: roots.body.ActiveRootID, Active: true, PrivateKeyType: "ec", PrivateKeyBits: 256, IntermediateCerts: [] });
    expect(JSON.stringify(roots.body)).not.toContain("PRIVATE KEY");
    expect((await getJson(`${node.url}/v1/agent/connect/ca/roots`)).body.ActiveRootID).toBe(root1.ID);

    const leaf = await getJson(`${node.url}/v1/agent/connect/ca/leaf/web`);
    expect(leaf.status).toBe(200);
    expect(leaf.headers.get("cache-control")).toBe("no-store");
    const td = roots.body.TrustDomain;
    expect(leaf.body).toMatchObject({ Service: "web", ServiceURI: `spiffe://${td}/ns/default/svc/web` });
    const hours = (Date.parse(leaf.body.ValidBefore) - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(71.9);
    expect(hours).toBeLessThanOrEqual(72);
    const rootPem = file("root1.pem", root1.RootCert);
    const leafPem = file("leaf1.pem", leaf.body.CertPEM);
    expect(openssl("verify", "-CAfile", rootPem, leafPem)).toMatchObject({ ok: true });
    const text = openssl("x509", "-in", leafPem, "-noout", "-text").out;
    expect(text).toContain(`URI:spiffe://${td}/ns/default/svc/web`);
    expect(text).toContain("CA:FALSE");
    expect(text).toContain("TLS Web Client Authentication");
    expect(text).toContain("prime256v1");
    // The private key is the certificate's.
    const keyPub = openssl("pkey", "-in", file("leaf1.key", leaf.body.PrivateKeyPEM), "-pubout").out;
    expect(openssl("x509", "-in", leafPem, "-noout", "-pubkey").out).toBe(keyPub);
    // Another root does not verify it.
    const other = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "o.key"), "-out", join(dir, "o.pem"), "-days", "1", "-subj", "/CN=other");
    expect(other.ok).toBe(true);
    expect(openssl("verify", "-CAfile", join(dir, "o.pem"), leafPem).ok).toBe(false);

    const bad = await getJson(`${node.url}/v1/agent/connect/ca/leaf/${encodeURIComponent("we b")}`);
    expect([bad.status, bad.body.code]).toEqual([400, "INVALID_SERVICE"]);
    const badTtl = await getJson(`${node.url}/v1/agent/connect/ca/leaf/web?ttl=forever`);
    expect([badTtl.status, badTtl.body.code]).toEqual([400, "INVALID_TTL"]);

    // Rotation through the CLI.
    const cli = spawnSync(BUN, [ENTRY, "operator", "ca", "rotate", "--addr", node.url], { encoding: "utf8" });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain(td);
    const after = (await getJson(`${node.url}/v1/connect/ca/roots`)).body;
    expect(after.TrustDomain).toBe(td);
    expect(after.Roots).toHaveLength(2);
    expect(after.ActiveRootID).not.toBe(root1.ID);
    const old = after.Roots.find((r: { ID: string }) => r.ID === root1.ID);
    const fresh = after.Roots.find((r: { Active: boolean }) => r.Active);
    expect(old.Active).toBe(false);
    expect(fresh.IntermediateCerts).toHaveLength(1);
    const bundle = file("bundle.pem", after.Roots.map((r: { RootCert: string }) => r.RootCert).join(""));
    // The old leaf still verifies against the trusted set.
    expect(openssl("verify", "-CAfile", bundle, leafPem).ok).toBe(true);
    const leaf2 = (await getJson(`${node.url}/v1/agent/connect/ca/leaf/api`)).body;
    const certs = leaf2.CertPEM.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g);
    expect(certs).toHaveLength(2); // the leaf, then the cross-signed root
    const leaf2Pem = file("leaf2.pem", certs[0]);
    const cross = file("cross.pem", certs[1]);
    expect(openssl("verify", "-CAfile", file("root2.pem", fresh.RootCert), leaf2Pem).ok).toBe(true);
    // A peer that trusts only the old root accepts the new leaf through the cross-signed root.
    expect(openssl("verify", "-CAfile", rootPem, leaf2Pem).ok).toBe(false);
    expect(openssl("verify", "-CAfile", rootPem, "-untrusted", cross, leaf2Pem).ok).toBe(true);

    // The CA's private keys are in the state encrypted only; the variables API cannot see them.
    for (const f of filesUnder(node.dataDir)) expect({ f, clear: readFileSync(f).includes("PRIVATE KEY") }).toEqual({ f, clear: false });
    const list = await getJson(`${node.url}/v1/vars?namespace=*`);
    expect(list.body).toEqual([]);
    const direct = await getJson(`${node.url}/v1/var/ca?namespace=${encodeURIComponent("corral:connect")}`);
    expect(direct.status).toBe(400);
    // A full keyring rotation re-encrypts the CA's state with the rest; the CA goes on signing with the same roots.
    const full = await getJson(`${node.url}/v1/operator/keyring/rotate?full`, { method: "POST" });
    expect([full.status, full.body.Reencrypted]).toEqual([200, 1]);
    expect((await getJson(`${node.url}/v1/connect/ca/roots`)).body.ActiveRootID).toBe(after.ActiveRootID);
    expect((await getJson(`${node.url}/v1/agent/connect/ca/leaf/web`)).status).toBe(200);
  }, 60_000);

  test("an agent's leaves are signed by the leaders' CA (its key made on the agent)", async () => {
    const secret = "mesh-ca-secret-0123456789";
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n` });
    const agent = await startCorral({ role: "agent", config: `[node]\nname = "ca-agent"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n` });
    const roots = await eventually(async () => {
      const r = await getJson(`${agent.url}/v1/agent/connect/ca/roots`);
      return r.status === 200 ? r.body : undefined;
    }, 10_000);
    expect((await getJson(`${leader.url}/v1/connect/ca/roots`)).body.ActiveRootID).toBe(roots.ActiveRootID);
    const leaf = await getJson(`${agent.url}/v1/agent/connect/ca/leaf/db?ttl=1h`);
    expect(leaf.status).toBe(200);
    expect((Date.parse(leaf.body.ValidBefore) - Date.now()) / 3600_000).toBeLessThanOrEqual(1);
    expect(openssl("verify", "-CAfile", file("agent-root.pem", roots.Roots[0].RootCert), file("agent-leaf.pem", leaf.body.CertPEM)).ok).toBe(true);
    // The signing RPC is for nodes: unsigned, it is refused.
    const unsigned = await getJson(`${leader.url}/v1/cluster/connect/sign`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ service: "db", publicKeyPem: "x", ttlMs: 1000 }) });
    expect(unsigned.status).toBe(401);
  }, 60_000);

  test("with ACLs on, a leaf needs service:write on its service (as Consul); roots need no token", async () => {
    const n = await startAclNode();
    const reader = (await tokenWith(n, "reader", 'service "web" { policy = "read" }')).secret;
    const writer = (await tokenWith(n, "writer", 'service "web" { policy = "write" }')).secret;
    expect((await call(n.url, "GET", "/v1/agent/connect/ca/leaf/web")).status).toBe(403);
    expect((await call(n.url, "GET", "/v1/agent/connect/ca/leaf/web", reader)).status).toBe(403);
    expect((await call(n.url, "GET", "/v1/agent/connect/ca/leaf/db", writer)).status).toBe(403);
    const ok = await call(n.url, "GET", "/v1/agent/connect/ca/leaf/web", writer);
    expect(ok.status).toBe(200);
    expect((await call(n.url, "GET", "/v1/connect/ca/roots")).status).toBe(200);
    expect((await call(n.url, "POST", "/v1/operator/connect/ca/rotate", writer)).status).toBe(403);
    expect((await call(n.url, "POST", "/v1/operator/connect/ca/rotate", n.management)).status).toBe(200);
  }, 60_000);
});

describe.skipIf(!HAVE_OPENSSL)("an external CA ([connect] ca_cert_file, ca_key_file)", () => {
  test("signs the leaves; a key file others may read, or one not of the certificate, stops the start", async () => {
    const d = tempDir("corral-extca-");
    const run = (...args: string[]) => expect(spawnSync("openssl", args, { cwd: d, encoding: "utf8" }).status).toBe(0);
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/O=Acme/CN=Acme mesh CA");
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key");
    spawnSync("chmod", ["600", join(d, "ca.key"), join(d, "other.key")]);
    const cfg = (key: string) => `[connect]\nca_cert_file = "${join(d, "ca.pem")}"\nca_key_file = "${join(d, key)}"\n`;
    const node = await startCorral({ config: cfg("ca.key") });
    const roots = (await getJson(`${node.url}/v1/connect/ca/roots`)).body;
    expect(roots.Roots).toHaveLength(1);
    expect(roots.Roots[0].RootCert).toBe(readFileSync(join(d, "ca.pem"), "utf8"));
    const leaf = (await getJson(`${node.url}/v1/agent/connect/ca/leaf/web`)).body;
    const leafPem = join(d, "leaf.pem");
    writeFileSync(leafPem, leaf.CertPEM);
    expect(openssl("verify", "-CAfile", join(d, "ca.pem"), leafPem).out).toContain("OK");
    const rotate = await getJson(`${node.url}/v1/operator/connect/ca/rotate`, { method: "POST" });
    expect([rotate.status, rotate.body.code]).toEqual([400, "EXTERNAL_CA"]);
    await node.kill();

    const wrongKey = await startCorral({ config: cfg("other.key"), waitReady: false });
    await wrongKey.exited;
    expect(wrongKey.output()).toContain("is not the key of ca_cert_file");
    spawnSync("chmod", ["644", join(d, "ca.key")]);
    spawnSync("chmod", ["755", d]); // (a key in a folder others cannot enter is not readable by them)
    const readable = await startCorral({ config: cfg("ca.key"), waitReady: false });
    await readable.exited;
    expect(readable.output()).toContain("other users may read it");
  }, 60_000);
});
