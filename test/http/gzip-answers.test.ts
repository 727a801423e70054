// Shared blocking-read answers are gzipped for clients that ask, as Consul's
// agent does (core/http/gzip-answer.ts): `Accept-Encoding: gzip` and a body of
// 1,400 bytes or more → `Content-Encoding: gzip`, the compressed bytes'
// Content-Length, `Vary: Accept-Encoding`; a client not asking gets the plain
// bytes. The fast path (a GET without a body) and the route (the same GET
// declaring `Content-Length: 0`) answer byte for byte alike. Why: a held
// answer over 16 KB left the leader in ≈ 43 send()s (Bun corks only the
// handler's synchronous part; docs/scale.md "Held answers in one write").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { eventually, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { acceptsGzip } from "../../core/http/gzip-answer.ts";

let node: CorralProcess;
const INSTANCES = 20;

async function register(n: number, service: string, status = "passing") {
  const body = JSON.stringify({
    Node: `gz-node-${n}`, Address: `10.0.0.${n}`,
    Service: { ID: `${service}-${n}`, Service: service, Tags: ["a", "b"], Port: 8000 + n, Meta: { version: "1.2.3", zone: `z${n % 3}` } },
    Check: { CheckID: `${service}-${n}-c`, Name: "alive", ServiceID: `${service}-${n}`, Status: status, Output: "HTTP GET http://10.0.0.1/health: 200 OK ".repeat(4) },
  });
  const res = await fetch(`${node.url}/v1/catalog/register`, { method: "PUT", body, headers: { "content-type": "application/json" } });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  node = await startCorral({ role: "dev" });
  for (let i = 1; i <= INSTANCES; i++) await register(i, "big");
}, 120_000);
afterAll(killAll);

interface Raw { status: number; headers: Record<string, string | null>; bytes: Buffer }

/** What the client receives on the wire (no decoding); `route`: a GET declaring an empty body, which the fast path leaves to hono's route. */
async function get(path: string, acceptEncoding: string | undefined, route: boolean, method = "GET"): Promise<Raw> {
  const headers: Record<string, string> = { "accept-encoding": acceptEncoding ?? "identity" };
  if (route) headers["content-length"] = "0";
  const res = await fetch(node.url + path, { method, headers, decompress: false } as RequestInit);
  const bytes = Buffer.from(await res.arrayBuffer());
  const pick = ["content-type", "content-encoding", "content-length", "vary", "x-consul-index", "x-consul-knownleader", "transfer-encoding"];
  return { status: res.status, headers: Object.fromEntries(pick.map((h) => [h, res.headers.get(h)])), bytes };
}

describe("a large shared answer", () => {
  for (const via of ["fast path", "route"] as const) {
    test(`${via}: gzip for a client that asks, the plain bytes for one that does not`, async () => {
      const route = via === "route";
      const plain = await get("/v1/health/service/big", undefined, route);
      expect(plain.status).toBe(200);
      const entries = JSON.parse(plain.bytes.toString("utf8"));
      expect(entries).toHaveLength(INSTANCES);
      expect(plain.bytes.length).toBeGreaterThan(16_384);
      expect(plain.headers["content-encoding"]).toBeNull();
      expect(plain.headers["content-length"]).toBe(String(plain.bytes.length));
      expect(plain.headers["vary"]).toBe("Accept-Encoding");

      const gz = await get("/v1/health/service/big", "gzip, deflate, br", route);
      expect(gz.status).toBe(200);
      expect(gz.headers["content-encoding"]).toBe("gzip");
      expect(gz.headers["vary"]).toBe("Accept-Encoding");
      expect(gz.headers["transfer-encoding"]).toBeNull();
      expect(gz.headers["content-length"]).toBe(String(gz.bytes.length));
      expect(gz.headers["content-type"]).toBe(plain.headers["content-type"]);
      expect(gz.headers["x-consul-index"]).toBe(plain.headers["x-consul-index"]);
      // A sixth of the bytes or less: under the 16 KB that Bun writes in one send().
      expect(gz.bytes.length).toBeLessThan(plain.bytes.length / 4);
      expect(gunzipSync(gz.bytes).equals(plain.bytes)).toBe(true);

      // gzip refused (q=0) or not among the codings: plain.
      for (const ae of ["gzip;q=0", "br", "deflate, identity", "*"]) {
        const r = await get("/v1/health/service/big", ae, route);
        expect({ ae, enc: r.headers["content-encoding"], same: r.bytes.equals(plain.bytes) }).toEqual({ ae, enc: null, same: true });
      }
      const weighted = await get("/v1/health/service/big", "br;q=1.0, GZIP;q=0.5", route);
      expect(weighted.headers["content-encoding"]).toBe("gzip");
    }, 60_000);
  }

  test("the fast path and the route send the same bytes and headers, compressed or not", async () => {
    for (const ae of [undefined, "gzip"]) {
      const fast = await get("/v1/health/service/big", ae, false);
      const route = await get("/v1/health/service/big", ae, true);
      expect({ ...fast, bytes: fast.bytes.toString("base64") }).toEqual({ ...route, bytes: route.bytes.toString("base64") });
    }
  }, 60_000);

  test("HEAD says the GET's Content-Length (compressed for a client asking gzip), never a false 0", async () => {
    // hono answers HEAD from the GET route's Response re-made without a body; Bun then said Content-Length: 0.
    // The route table answers with the GET's own Response instead (core/http/head-answer.ts); Bun sends no bytes.
    for (const ae of [undefined, "gzip"]) {
      const head = await get("/v1/health/service/big", ae, true, "HEAD");
      const full = await get("/v1/health/service/big", ae, true);
      expect(head.status).toBe(200);
      expect(head.bytes.length).toBe(0);
      expect(head.headers["content-length"]).toBe(String(full.bytes.length));
      expect(head.headers["content-encoding"]).toBe(full.headers["content-encoding"]);
      expect(head.headers["vary"]).toBe("Accept-Encoding");
      expect(head.headers["x-consul-index"]).toBe(full.headers["x-consul-index"]);
    }
    expect((await get("/v1/health/service/big", "gzip", true, "HEAD")).headers["content-encoding"]).toBe("gzip");
  }, 60_000);

  test("a held blocking read is woken with the compressed answer of the new state", async () => {
    const before = await get("/v1/health/service/big", "gzip", false);
    const index = before.headers["x-consul-index"]!;
    const held = get(`/v1/health/service/big?index=${index}&wait=30s`, "gzip", false);
    await Bun.sleep(300);
    await register(INSTANCES + 1, "big", "critical");
    const woken = await held;
    expect(woken.status).toBe(200);
    expect(Number(woken.headers["x-consul-index"])).toBeGreaterThan(Number(index));
    expect(woken.headers["content-encoding"]).toBe("gzip");
    expect(woken.headers["content-length"]).toBe(String(woken.bytes.length));
    const entries = JSON.parse(gunzipSync(woken.bytes).toString("utf8"));
    expect(entries).toHaveLength(INSTANCES + 1);
  }, 60_000);

  test("Bun's fetch (asks for gzip by default) reads it as JSON", async () => {
    const res = await fetch(`${node.url}/v1/health/service/big`);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect((await res.json()) as unknown[]).toHaveLength(INSTANCES + 1);
  }, 60_000);
});

describe("python-consul (python3-consul, over requests: asks for gzip)", () => {
  const python = "/usr/bin/python3";
  const missing = Bun.spawnSync([python, "-c", "import consul"]).exitCode !== 0;
  if (missing) console.log("skipping the python-consul gzip test: python3-consul is not installed; apt-get install python3-consul");
  test.skipIf(missing)("health.service reads the large answer (and a blocking call on it) as JSON", async () => {
    const script = [
      "import consul, sys",
      "c = consul.Consul(host='127.0.0.1', port=int(sys.argv[1]))",
      "index, entries = c.health.service('big')",
      "index2, again = c.health.service('big', index=index, wait='50ms')",
      "print(len(entries), len(again), index == index2)",
    ].join("\n");
    const r = Bun.spawnSync([python, "-c", script, String(node.port)]);
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim()).toBe(`${INSTANCES + 1} ${INSTANCES + 1} True`);
  }, 60_000);
});

test("HEAD on other routes: the GET's Content-Length, and none (not 0) for a streamed answer", async () => {
  for (const path of ["/v1/catalog/services", "/v1/status/leader", "/v1/agent/self", "/ui/"]) {
    const head = await get(path, undefined, false, "HEAD");
    const full = await get(path, undefined, false);
    expect([path, head.status, head.bytes.length, head.headers["content-length"]]).toEqual([path, full.status, 0, String(full.bytes.length)]);
    expect(full.bytes.length).toBeGreaterThan(0);
  }
  // The event stream never ends: its HEAD answers at once, its length unknown, and the stream is
  // cancelled (Bun does it; hono's bodiless copy left it open: one stream for ever per HEAD).
  const streams = async () => Number(/^corral_event_streams (\d+)$/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1]);
  const open = await streams();
  const t0 = Date.now();
  const events = await get("/v1/events", undefined, false, "HEAD");
  expect(events.status).toBe(200);
  expect(events.headers["content-type"]).toContain("text/event-stream");
  expect(events.headers["content-length"]).toBeNull();
  expect(Date.now() - t0).toBeLessThan(5_000);
  await eventually(async () => (await streams()) === open, 3_000, 100);
}, 60_000);

test("a small answer (under 1,400 bytes) is sent plain even to a client that asks", async () => {
  const r = await get("/v1/catalog/services", "gzip", false);
  expect(r.status).toBe(200);
  expect(r.headers["content-encoding"]).toBeNull();
  expect(JSON.parse(r.bytes.toString("utf8"))).toHaveProperty("big");
}, 60_000);

test("acceptsGzip reads Accept-Encoding as Go's gziphandler does", () => {
  const cases: [string | null, boolean][] = [
    [null, false], ["", false], ["gzip", true], ["GZip", true], ["deflate, gzip", true], [" gzip ; q=0.001", true],
    ["gzip;q=0", false], ["gzip; q=0.0", false], ["gzip;q=abc", false], ["*", false], ["x-gzip", false], ["identity", false],
  ];
  for (const [h, want] of cases) expect({ h, got: acceptsGzip(h) }).toEqual({ h, got: want });
});

describe("with ACLs and hide_check_output on", () => {
  // What reads an answer after its handler (hide_check_output's blanking) must see the plain bytes and its
  // rewrite must be what leaves: a reader asking gzip gets the blanked Output, never the cached original.
  test("a reader asking gzip gets the blanked Output; management the compressed original, a writer the original", async () => {
    const { startAclNode, tokenWith } = await import("../acl/helpers.ts");
    const n = await startAclNode(`\n[plugins.discovery]\nhide_check_output = true\n`);
    for (let i = 1; i <= 10; i++) {
      const body = JSON.stringify({ Node: `acl-n${i}`, Address: "10.0.0.1", Service: { ID: `web-${i}`, Service: "web", Port: 80 }, Check: { CheckID: `web-${i}-c`, Name: "c", ServiceID: `web-${i}`, Status: "passing", Output: `secret-output-${i} `.repeat(20) } });
      expect((await fetch(`${n.url}/v1/catalog/register`, { method: "PUT", body, headers: { "X-Consul-Token": n.management } })).status).toBe(200);
    }
    const reader = await tokenWith(n, "web-reader", 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }');
    const writer = await tokenWith(n, "web-writer", 'service "web" { policy = "write" }\nnode_prefix "" { policy = "read" }');
    const read = async (token: string) => {
      const res = await fetch(`${n.url}/v1/health/service/web`, { headers: { "X-Consul-Token": token, "accept-encoding": "gzip" }, decompress: false } as RequestInit);
      const raw = Buffer.from(await res.arrayBuffer());
      const enc = res.headers.get("content-encoding");
      const text = (enc === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
      return { status: res.status, enc, length: res.headers.get("content-length"), raw: raw.length, entries: JSON.parse(text) as { Checks: { CheckID: string; Output: string }[] }[] };
    };
    // Twice each, in both orders: the second of each shares the cached answer.
    const management = { secret: n.management };
    for (const who of [reader, writer, management, reader, writer, management]) {
      const r = await read(who.secret);
      expect(r.status).toBe(200);
      expect(r.entries).toHaveLength(10);
      const outputs = r.entries.map((e) => e.Checks.find((c) => c.CheckID.startsWith("web-"))!.Output);
      if (who === reader) {
        expect(outputs).toEqual(Array(10).fill(""));
        expect(r.enc).toBeNull();
      } else {
        expect(outputs.every((o) => o.includes("secret-output-"))).toBe(true);
        expect(r.length).toBe(String(r.raw));
        // The writer's answer has node-level checks it may not write (node_prefix read): their Output is
        // blanked, so hide_check_output re-made the answer and it leaves plain.
        if (who === management) expect(r.enc).toBe("gzip");
      }
    }
  }, 90_000);
});

test("with ACLs on, a token whose rules cut the answer gets it gzipped, with X-Consul-Results-Filtered-By-ACLs (set without re-making the answer)", async () => {
  const { startAclNode, tokenWith } = await import("../acl/helpers.ts");
  const n = await startAclNode();
  for (let i = 1; i <= 10; i++) {
    const body = JSON.stringify({ Node: `cut-n${i}`, Address: "10.0.0.1", Service: { ID: `api-${i}`, Service: "api", Port: 80, Meta: { note: "m".repeat(200) } } });
    expect((await fetch(`${n.url}/v1/catalog/register`, { method: "PUT", body, headers: { "X-Consul-Token": n.management } })).status).toBe(200);
  }
  const reader = await tokenWith(n, "api-reader", 'service "api" { policy = "read" }\nnode_prefix "" { policy = "read" }');
  const res = await fetch(`${n.url}/v1/health/service/api`, { headers: { "X-Consul-Token": reader.secret, "accept-encoding": "gzip" }, decompress: false } as RequestInit);
  const raw = Buffer.from(await res.arrayBuffer());
  expect(res.status).toBe(200);
  expect(res.headers.get("x-consul-results-filtered-by-acls")).toBe("true");
  expect(res.headers.get("content-encoding")).toBe("gzip");
  expect(JSON.parse(gunzipSync(raw).toString("utf8"))).toHaveLength(10);
}, 90_000);

test("through an agent: the leader's gzipped answer is decoded on the way and the client reads it", async () => {
  const { freePort } = await import("../helpers/proc.ts");
  const leaderPort = await freePort();
  const secret = "gzip-agent-secret-0123456789abcdef";
  const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n` });
  const agent = await startCorral({ role: "agent", config: `[node]\nname = "gz-agent"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n` });
  for (let i = 1; i <= 10; i++) {
    const body = JSON.stringify({ Node: `ag-n${i}`, Address: "10.0.0.1", Service: { ID: `q-${i}`, Service: "q", Port: 80, Meta: { note: "m".repeat(300) } } });
    expect((await fetch(`${leader.url}/v1/catalog/register`, { method: "PUT", body })).status).toBe(200);
  }
  const direct = await fetch(`${leader.url}/v1/health/service/q`, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
  expect(direct.headers.get("content-encoding")).toBe("gzip");
  const plain = await (await fetch(`${leader.url}/v1/health/service/q`, { headers: { "accept-encoding": "identity" } })).text();
  for (const ae of ["gzip", "identity"]) {
    const res = await fetch(`${agent.url}/v1/health/service/q`, { headers: { "accept-encoding": ae }, decompress: false } as RequestInit);
    const raw = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    const text = (res.headers.get("content-encoding") === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
    expect(text).toBe(plain);
    // HEAD through the agent: the length of what the agent's GET sends (decoded), not 0.
    const head = await fetch(`${agent.url}/v1/health/service/q`, { method: "HEAD", headers: { "accept-encoding": ae }, decompress: false } as RequestInit);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(plain)));
    expect(head.headers.get("content-encoding")).toBeNull();
  }
  await agent.kill();
  await leader.kill();
}, 90_000);
