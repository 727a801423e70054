// A real consumer of the DNS interface: HAProxy finds its backends through
// corral's SRV records (`server-template` with `resolvers`), as operators
// wire HAProxy to Consul. Instances coming, failing their check and going
// must show in which backends answer HAProxy's traffic.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, freePort, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";

const haveHaproxy = spawnSync("haproxy", ["-v"]).status === 0;
if (!haveHaproxy) console.log("skipping test/dns/haproxy-srv: haproxy is not installed (apt-get install haproxy)");

let corral: CorralProcess;
let dnsPort = 0;
let haproxy: ChildProcess | undefined;
let haproxyOut = "";
let frontPort = 0;
const backends: Server[] = [];

/** An HTTP server on loopback that answers with its name. */
async function backend(name: string): Promise<number> {
  const s = createServer((_req, res) => res.end(name));
  backends.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return (s.address() as { port: number }).port;
}

const put = (path: string, body?: unknown) =>
  fetch(`${corral.url}${path}`, { method: "PUT", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

async function register(id: string, port: number) {
  const r = await put("/v1/agent/service/register", { Name: "web", ID: id, Address: "127.0.0.1", Port: port, Check: { CheckID: `${id}-ttl`, TTL: "10m", Status: "passing" } });
  expect(r.status).toBe(200);
}

/** Which backends answer 30 requests through HAProxy. */
async function answering(): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const r = await fetch(`http://127.0.0.1:${frontPort}/`).catch(() => undefined);
    if (r?.status === 200) seen.add(await r.text());
    else await r?.text();
  }
  return [...seen].sort();
}

async function until(want: string[]): Promise<void> {
  await eventually(async () => (JSON.stringify(await answering()) === JSON.stringify(want) ? true : undefined), 20_000, 200).catch((err) => {
    throw new Error(`HAProxy's backends never became ${JSON.stringify(want)}: ${err}\n${haproxyOut.slice(-2000)}`);
  });
}

// All instances here share 127.0.0.1 (they differ by port): without
// `allow-dup-ip` HAProxy gives an address to one server of the template only.
beforeAll(async () => {
  if (!haveHaproxy) return;
  dnsPort = await freePort();
  corral = await startCorral({ role: "dev", config: `[plugins.dns]\nport = ${dnsPort}\nservice_ttl = "0s"\n` });
  frontPort = await freePort();
  const cfg = join(tempDir("corral-haproxy-"), "haproxy.cfg");
  writeFileSync(
    cfg,
    `global
  log stderr format raw local0 notice
defaults
  mode http
  log global
  timeout connect 1s
  timeout client 5s
  timeout server 5s
resolvers corral
  nameserver corral 127.0.0.1:${dnsPort}
  accepted_payload_size 8192
  resolve_retries 3
  timeout resolve 200ms
  timeout retry 200ms
  hold valid 500ms
  hold obsolete 0s
  hold nx 500ms
frontend fe
  bind 127.0.0.1:${frontPort}
  default_backend be
backend be
  balance roundrobin
  server-template web 5 _web._tcp.service.corral resolvers corral resolve-prefer ipv4 resolve-opts allow-dup-ip init-addr none
`,
  );
  haproxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
  haproxy.stdout!.on("data", (d) => (haproxyOut += d));
  haproxy.stderr!.on("data", (d) => (haproxyOut += d));
}, 60_000);

afterAll(async () => {
  haproxy?.kill("SIGKILL");
  for (const s of backends) s.close();
  await killAll();
});

describe.skipIf(!haveHaproxy)("HAProxy discovers backends through corral's DNS SRV records", () => {
  test("instances added, failing and deregistered move HAProxy's server list", async () => {
    const a = await backend("a");
    const b = await backend("b");
    await register("web-a", a);
    await register("web-b", b);
    await until(["a", "b"]);

    // Two more come up: HAProxy fills free slots of its template. Four is over
    // udp_answer_limit (3): HAProxy asks with EDNS, so it gets them all.
    await register("web-c", await backend("c"));
    await register("web-d", await backend("d"));
    await until(["a", "b", "c", "d"]);

    // A failing check takes the instance out of DNS, and so out of HAProxy.
    expect((await put("/v1/agent/check/fail/web-b-ttl")).status).toBe(200);
    await until(["a", "c", "d"]);
    expect((await put("/v1/agent/check/pass/web-b-ttl")).status).toBe(200);
    await until(["a", "b", "c", "d"]);

    // Deregistered: gone.
    expect((await put("/v1/agent/service/deregister/web-a")).status).toBe(200);
    await until(["b", "c", "d"]);
  }, 120_000);
});
