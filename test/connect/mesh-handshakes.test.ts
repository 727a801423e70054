// mTLS handshakes between two real agents (docs/mesh.md, "The paced p99"):
// a leader and agents A (127.0.0.2) and B (127.0.0.3), ACLs on, a caller on
// A calling an instance on B through A's proxy listener. Each new mesh
// connection is a handshake of ECDSA signatures and chain checks on both
// agents (ms of CPU on each, stalling whatever waits behind them), so a
// caller's calls must reuse its connections, across pauses too: B counts
// the handshakes it accepted (corral_invoke_mesh_handshakes_total).
//   - calls one after another go over one connection;
//   - after a pause longer than an instance pool's 4 s idle limit (the mesh's
//     pool used it, and every pause in traffic cost a handshake per connection),
//     the next calls still go over that connection;
//   - every call is still judged at B from the certificate: a denied caller's
//     calls are refused on their own (already pooled) connection.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { getJson, killAll, sleep, type CorralProcess } from "../helpers/proc.ts";
import { call } from "../acl/helpers.ts";
import { startMeshCluster } from "./mesh-cluster.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../invoke/helpers.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/mesh-handshakes.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");
const SECRET = "mesh-handshakes-0123456789abcdef";

let leader: CorralProcess;
let a: CorralProcess;
let b: CorralProcess;
let m = "";
let portA = 0;
const tokens: Record<string, string> = {};

/** Handshakes B's mesh listener accepted from callers with a service certificate. */
async function handshakesAtB(): Promise<number> {
  const text = (await getJson(`${b.url}/metrics`, { headers: { "x-consul-token": m } })).body as string;
  const line = 'corral_invoke_mesh_handshakes_total{peer="service"}';
  const hit = text.split("\n").find((l) => l.startsWith(line));
  return hit ? Number(hit.slice(line.length).trim()) : 0;
}

const callAs = (svc: string) => getJson(`http://127.0.0.1:${portA}/`, { headers: { host: "files", "x-consul-token": tokens[svc]! } });

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  ({ leader, a, b, management: m } = await startMeshCluster({ secret: SECRET, names: ["hs-a", "hs-b"] }));
  await register(b, "files", await startBackend("files"), { token: m });
  await waitPassing(leader, "files", 1, 20_000, m);
  for (const [src, action] of [["web", "allow"], ["api", "deny"]] as const) {
    expect((await call(leader.url, "PUT", `/v1/connect/intentions/exact?source=${src}&destination=files`, m, { Action: action })).status).toBe(200);
  }
  for (const svc of ["web", "api"]) {
    expect((await call(leader.url, "PUT", "/v1/acl/policy", m, { Name: `${svc}-caller`, Rules: `service "${svc}" { policy = "write" }\nservice_prefix "" { policy = "read" }` })).status).toBe(200);
    tokens[svc] = (await call(leader.url, "PUT", "/v1/acl/token", m, { Description: svc, Policies: [{ Name: `${svc}-caller` }], ServiceIdentities: [{ ServiceName: svc }] })).body.SecretID;
  }
  portA = await proxyPort(a, m);
  // The first call makes web's leaf and B's view of the service.
  for (let i = 0; i < 100 && (await callAs("web")).status !== 200; i++) await sleep(200);
}, 120_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

describe.skipIf(!HAVE_OPENSSL)("mesh connections between two agents are kept and reused", () => {
  test("calls one after another, and after a pause past 4 s, go over the one connection: no new handshake at B", async () => {
    const before = await handshakesAtB();
    expect(before).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 20; i++) expect((await callAs("web")).status).toBe(200);
    expect(await handshakesAtB()).toBe(before);
    // Longer than an instance pool's idle limit and its sweep (4 s + 1 s): the old pool closed the connection here.
    await sleep(6_500);
    for (let i = 0; i < 20; i++) expect((await callAs("web")).status).toBe(200);
    expect(await handshakesAtB()).toBe(before);
  }, 60_000);

  test("a kept connection is still judged from its certificate: a denied caller is refused on its own connection", async () => {
    const first = await callAs("api");
    expect(first.status).toBe(403);
    expect(first.body.code).toBe("INTENTION_DENIED");
    const before = await handshakesAtB();
    await sleep(6_500);
    const again = await callAs("api");
    expect(again.status).toBe(403);
    expect(again.body.code).toBe("INTENTION_DENIED");
    // web's connection was never lent to api: web still passes, and no connection was made for either.
    expect((await callAs("web")).status).toBe(200);
    expect(await handshakesAtB()).toBe(before);
  }, 60_000);
});
