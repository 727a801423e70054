// The mesh listener's metrics and spans on a real dev node with ACLs on
// (default deny) and the mesh on, seen as an operator scraping /metrics and
// a collector receiving spans would:
//   - handshakes by peer kind move, and failed handshakes (not TLS; a client
//     certificate from another CA) are counted as failures;
//   - intention denials are counted by source and destination service, and a
//     caller naming a new destination per request cannot grow /metrics past
//     the cap (the rest is counted under "(other)", the total stays exact);
//   - /metrics passes `promtool check metrics`;
//   - with OTLP export on, an allowed call through the mesh gives two spans:
//     the source hop's CLIENT span and the destination hop's SERVER span,
//     its child; the instance's parent is the SERVER span.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, freePort, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call } from "../acl/helpers.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../invoke/helpers.ts";
import { find, parseProm, promtoolCheck, value } from "../helpers/prom.ts";
import { startCollector, type Collector } from "../invoke/otlp-collector.ts";
import { MAX_DENIAL_PAIRS } from "../../plugins/invoke/mesh-metrics.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/mesh-metrics.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");

let node: CorralProcess;
let collector: Collector;
let m = "";
let meshPort = 0;
let roots: string[] = [];
let webToken = "";

async function scrape() {
  const text = (await getJson(`${node.url}/metrics`, { headers: { "x-consul-token": m } })).body as string;
  return { text, samples: parseProm(text) };
}

/** A request straight to the mesh listener, as anyone on the network can send one. */
function direct(destination: string, tls: Record<string, unknown> = {}) {
  return getJson(`https://127.0.0.1:${meshPort}/echo`, {
    headers: { "x-corral-mesh-service": destination },
    tls: { ca: roots, checkServerIdentity: () => undefined, ...tls },
  } as RequestInit);
}

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  collector = startCollector();
  meshPort = await freePort();
  node = await startCorral({
    role: "dev",
    config: `${ACL_CONFIG}\n[plugins.invoke]\nport = 0\nmesh = true\nmesh_port = ${meshPort}\nmesh_bind = "127.0.0.1"\notlp_endpoint = "${collector.url}"\notlp_interval = "100ms"\n`,
  });
  m = (await getJson(`${node.url}/v1/acl/bootstrap`, { method: "PUT" })).body.SecretID;
  await register(node, "files", await startBackend("files"), { token: m });
  await waitPassing(node, "files", 1, 10_000, m);
  expect((await call(node.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: "allow" })).status).toBe(200);
  const p = await call(node.url, "PUT", "/v1/acl/policy", m, { Name: "web-caller", Rules: `service "web" { policy = "write" }\nservice_prefix "" { policy = "read" }` });
  expect(p.status).toBe(200);
  webToken = (await call(node.url, "PUT", "/v1/acl/token", m, { Description: "web", Policies: [{ Name: "web-caller" }], ServiceIdentities: [{ ServiceName: "web" }] })).body.SecretID;
  roots = (await getJson(`${node.url}/v1/agent/connect/ca/roots`)).body.Roots.map((x: { RootCert: string }) => x.RootCert);
  // The listener starts once the CA answers.
  await eventually(async () => (await direct("files").catch(() => undefined))?.status === 403, 15_000);
}, 90_000);

afterAll(async () => {
  collector?.stop();
  await killBackends();
  await killAll();
});

describe.skipIf(!HAVE_OPENSSL)("mesh metrics", () => {
  test("handshakes by peer, failed handshakes, denials by source and destination; promtool passes", async () => {
    const before = (await scrape()).samples;
    const leaf = (await getJson(`${node.url}/v1/agent/connect/ca/leaf/web`, { headers: { "x-consul-token": m } })).body;
    const denied = await direct("secret", { cert: leaf.CertPEM, key: leaf.PrivateKeyPEM });
    expect([denied.status, denied.body.code]).toEqual([403, "INTENTION_DENIED"]);
    const plain = await direct("secret");
    expect(plain.status).toBe(403);

    // Not TLS at all: the handshake fails.
    await new Promise<void>((resolve) => {
      const s = connect(meshPort, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      s.on("close", () => resolve());
      s.on("error", () => resolve());
      s.on("data", () => {});
    });
    // A client certificate from another CA: the handshake completes, the caller is rejected.
    const dir = tempDir("corral-mesh-metrics-");
    expect(spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "1", "-subj", "/CN=rogue"], { cwd: dir }).status).toBe(0);
    const rogue = await direct("files", { cert: readFileSync(join(dir, "c.pem"), "utf8"), key: readFileSync(join(dir, "k.pem"), "utf8") });
    expect(rogue.body.code).toBe("MESH_CERT_REJECTED");

    const after = await eventually(async () => {
      const s = (await scrape()).samples;
      return (value(s, "corral_invoke_mesh_handshake_failures_total", { reason: "tls" }) ?? 0) > (value(before, "corral_invoke_mesh_handshake_failures_total", { reason: "tls" }) ?? 0) ? s : undefined;
    }, 10_000);
    const delta = (name: string, labels: Record<string, string>) => (value(after, name, labels) ?? 0) - (value(before, name, labels) ?? 0);
    expect(delta("corral_invoke_mesh_handshakes_total", { peer: "service" })).toBeGreaterThanOrEqual(1);
    expect(delta("corral_invoke_mesh_handshakes_total", { peer: "plain" })).toBeGreaterThanOrEqual(1);
    expect(delta("corral_invoke_mesh_handshakes_total", { peer: "rejected" })).toBe(1);
    expect(delta("corral_invoke_mesh_handshake_failures_total", { reason: "certificate" })).toBe(1);
    expect(delta("corral_invoke_mesh_handshake_failures_total", { reason: "tls" })).toBeGreaterThanOrEqual(1);
    expect(delta("corral_invoke_mesh_denials_total", { source: "web", destination: "secret" })).toBe(1);
    expect(delta("corral_invoke_mesh_denials_total", { source: "(none)", destination: "secret" })).toBe(1);

    const check = promtoolCheck((await scrape()).text);
    if (check.skipped) console.warn(`promtool: ${check.skipped}`);
    else expect(check.ok, check.output).toBe(true);
  }, 60_000);

  test("a new destination name per request does not grow /metrics past the cap; the total stays exact", async () => {
    const sum = (s: ReturnType<typeof parseProm>) => find(s, "corral_invoke_mesh_denials_total").reduce((a, x) => a + x.value, 0);
    const before = sum((await scrape()).samples);
    const n = MAX_DENIAL_PAIRS + 44;
    for (let i = 0; i < n; i++) expect((await direct(`made-up-${i}`)).status).toBe(403);
    const samples = (await scrape()).samples;
    const series = find(samples, "corral_invoke_mesh_denials_total");
    expect(series.length).toBeLessThanOrEqual(MAX_DENIAL_PAIRS + 1);
    expect(value(samples, "corral_invoke_mesh_denials_total", { source: "(other)", destination: "(other)" })).toBeGreaterThanOrEqual(44);
    expect(sum(samples) - before).toBe(n);
  }, 120_000);
});

describe.skipIf(!HAVE_OPENSSL)("mesh spans", () => {
  test("an allowed call: the source hop's CLIENT span, the destination hop's SERVER span as its child, the instance's parent", async () => {
    const port = await proxyPort(node, m);
    const trace = "0af7651916cd43dd8448eb211c80319c";
    const r = await eventually(async () => {
      const x = await getJson(`http://127.0.0.1:${port}/echo`, { headers: { host: "files", "x-consul-token": webToken, traceparent: `00-${trace}-b7ad6b7169203331-01` } });
      return x.status === 200 ? x : undefined;
    }, 15_000);
    const instanceParent = (r.body.headers.traceparent as string).split("-")[2]!;
    expect((r.body.headers.traceparent as string).split("-")[1]).toBe(trace);
    const server = await eventually(() => collector.spans.find((s) => s.spanId === instanceParent), 10_000, 50);
    expect(server.kind).toBe(2);
    expect(server.traceId).toBe(trace);
    const client = await eventually(() => collector.spans.find((s) => s.spanId === server.parentSpanId), 10_000, 50);
    expect(client.kind).toBe(3);
    expect(client.parentSpanId).toBe("b7ad6b7169203331");
    const attrs = Object.fromEntries(server.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
    expect(attrs).toMatchObject({ "peer.service": "files", "corral.mesh.source": "web", "http.response.status_code": "200" });
  }, 60_000);
});
