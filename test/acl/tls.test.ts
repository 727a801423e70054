// TLS on the HTTP port ([tls]): a test CA and certificates made with
// openssl; clients trust the CA; two leaders run Raft over https; an agent
// joins its leader over https; verify_incoming refuses clients without a
// certificate (mutual TLS) while the agent, which presents its own, joins.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, freePort, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";

afterAll(() => killAll());

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/acl/tls.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");

/** A CA and two leaf certificates (server and client use, SAN 127.0.0.1 and localhost). */
function makeCerts(): { dir: string; ca: string } {
  const dir = tempDir("corral-tls-");
  const run = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=corral test CA");
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  for (const n of ["node", "client"]) {
    run("req", ...ec, "-keyout", `${n}.key`, "-out", `${n}.csr`, "-subj", `/CN=${n}`);
    run("x509", "-req", "-in", `${n}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${n}.pem`, "-days", "2", "-extfile", "leaf.ext");
  }
  return { dir, ca: readFileSync(join(dir, "ca.pem"), "utf8") };
}

function tlsConfig(dir: string, verifyIncoming = false): string {
  return `[tls]\ncert_file = "${dir}/node.pem"\nkey_file = "${dir}/node.key"\nca_file = "${dir}/ca.pem"\nverify_incoming = ${verifyIncoming}\n`;
}

async function get(url: string, tls?: object) {
  const r = await fetch(url, { tls, signal: AbortSignal.timeout(3000) } as RequestInit);
  return { status: r.status, body: (await r.json().catch(() => undefined)) as any };
}

async function startTls(role: "leader" | "agent", config: string, port?: number): Promise<CorralProcess & { https: string }> {
  const p = await startCorral({ role, port, config, waitReady: false });
  const https = `https://127.0.0.1:${p.port}`;
  return Object.assign(p, { https });
}

describe.skipIf(!HAVE_OPENSSL)("TLS", () => {
  const { dir, ca } = HAVE_OPENSSL ? makeCerts() : { dir: "", ca: "" };
  const secret = "tls-cluster-secret-0123456789";
  const clientCert = () => ({ ca, cert: readFileSync(join(dir, "client.pem"), "utf8"), key: readFileSync(join(dir, "client.key"), "utf8") });

  test("two leaders run Raft over https; clients need the CA; plain http gets nothing", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const common = `[cluster]\nsecret = "${secret}"\n\n${tlsConfig(dir)}`;
    const a = await startTls("leader", `[node]\nname = "a"\nadvertise = "127.0.0.1:${pa}"\n[leader]\npeers = ["127.0.0.1:${pb}"]\n\n${common}`, pa);
    const b = await startTls("leader", `[node]\nname = "b"\nadvertise = "127.0.0.1:${pb}"\n[leader]\npeers = ["127.0.0.1:${pa}"]\n\n${common}`, pb);
    const leaderOf = async (n: { https: string }) => (await get(n.https + "/v1/operator/raft", { ca })).body?.leader;
    const leader = await eventually(async () => {
      const [x, y] = [await leaderOf(a).catch(() => undefined), await leaderOf(b).catch(() => undefined)];
      return x && x === y ? x : undefined;
    }, 20_000);
    expect([`127.0.0.1:${pa}`, `127.0.0.1:${pb}`]).toContain(leader);
    // A write through the follower travels to the leader over https.
    const follower = leader === `127.0.0.1:${pa}` ? b : a;
    const put = await fetch(follower.https + "/v1/kv/over-tls", { method: "PUT", body: "1", tls: { ca } } as RequestInit);
    expect(put.status).toBe(200);
    await expect(fetch(a.https + "/v1/healthz", { signal: AbortSignal.timeout(3000) })).rejects.toThrow(); // not trusted
    await expect(fetch(a.url + "/v1/healthz", { signal: AbortSignal.timeout(3000) }).then((r) => r.status)).rejects.toThrow(); // plain http
    expect(a.output()).toContain("https://127.0.0.1:");
    await Promise.all([a.kill(), b.kill()]);
  }, 60_000);

  test("verify_incoming: clients need a certificate from the CA; an agent joins over mutual TLS", async () => {
    const port = await freePort();
    const leader = await startTls("leader", `[cluster]\nsecret = "${secret}"\n\n${tlsConfig(dir, true)}`, port);
    await eventually(async () => (await get(leader.https + "/v1/healthz", clientCert())).status === 200, 15_000);
    await expect(get(leader.https + "/v1/healthz", { ca })).rejects.toThrow(); // no client certificate
    const agent = await startTls("agent", `[node]\nname = "tls-agent"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${port}"]\nheartbeat = "300ms"\n\n${tlsConfig(dir)}`);
    const nodes = await eventually(async () => {
      const r = await get(leader.https + "/v1/nodes", clientCert());
      return r.body?.some((n: { name: string; status: string }) => n.name === "tls-agent" && n.status === "ready") ? r.body : undefined;
    }, 20_000);
    expect(nodes.length).toBe(1);
    // A write on the agent is forwarded to the leader over mutual TLS.
    const put = await fetch(agent.https + "/v1/kv/via-agent", { method: "PUT", body: "1", tls: { ca } } as RequestInit);
    expect(put.status).toBe(200);
    expect((await get(leader.https + "/v1/kv/via-agent", clientCert())).body[0].Key).toBe("via-agent");
    await Promise.all([agent.kill(), leader.kill()]);
  }, 60_000);
});
