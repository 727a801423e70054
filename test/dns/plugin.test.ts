// The dns plugin on real sockets, run by the real plugin host with a fake
// catalog: node's resolver over UDP (falling back to TCP on TC), raw UDP and
// TCP queries, metrics, disable/enable releasing and re-binding the port, a
// port in use failing the plugin cleanly, and dig when it is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import dgram from "node:dgram";
import { promises as dnsPromises } from "node:dns";
import net from "node:net";
import { Registry } from "prom-client";
import { silentLogger } from "../../core/log.ts";
import { ScopedMetrics } from "../../core/plugins/metrics.ts";
import type { Closeable, PluginContext } from "../../core/plugins/types.ts";
import { emptyStateReader } from "../../core/state/reader.ts";
import dnsPlugin, { createDnsPlugin, type DnsConfig, type DnsHandle } from "../../plugins/dns/index.ts";
import { standardCatalog } from "./fake-catalog.ts";
import { connect, encodeQuery, frame, readFrames, udpQuery } from "./wire.ts";
import { testPluginHost } from "../helpers/plugin-host.ts";

async function freePort(): Promise<number> {
  for (;;) {
    const u = dgram.createSocket("udp4");
    await new Promise<void>((r) => u.bind(0, "127.0.0.1", () => r()));
    const port = u.address().port;
    const t = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      t.once("error", () => r(false));
      t.listen(port, "127.0.0.1", () => r(true));
    });
    await new Promise<void>((r) => u.close(() => r()));
    if (ok) {
      await new Promise<void>((r) => t.close(() => r()));
      return port;
    }
  }
}

/** Whether both UDP and TCP can bind `port` right now (i.e. nothing holds it). */
async function portIsFree(port: number): Promise<boolean> {
  const u = dgram.createSocket("udp4");
  const udpOk = await new Promise<boolean>((r) => {
    u.once("error", () => r(false));
    u.bind(port, "127.0.0.1", () => r(true));
  });
  if (udpOk) await new Promise<void>((r) => u.close(() => r()));
  const t = net.createServer();
  const tcpOk = await new Promise<boolean>((r) => {
    t.once("error", () => r(false));
    t.listen(port, "127.0.0.1", () => r(true));
  });
  if (tcpOk) await new Promise<void>((r) => t.close(() => r()));
  return udpOk && tcpOk;
}

function makeHost(settings: () => Record<string, Record<string, unknown>>) {
  const { host, metrics } = testPluginHost(settings);
  host.registerBuiltin(createDnsPlugin({ catalog: () => standardCatalog() }));
  return { host, metrics };
}

function resolverFor(port: number) {
  const r = new dnsPromises.Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

let port: number;
let settings: Record<string, Record<string, unknown>>;
let h: ReturnType<typeof makeHost>;

beforeAll(async () => {
  port = await freePort();
  settings = { dns: { port, tcp_idle_timeout: "300ms" } };
  h = makeHost(() => settings);
  const info = await h.host.enable("dns");
  expect(info.state).toBe("enabled");
});

afterAll(async () => {
  await h.host.stopAll();
});

describe("dns plugin", () => {
  test("module shape and defaults", () => {
    expect(dnsPlugin.name).toBe("dns");
    const c = dnsPlugin.configSchema.parse({});
    expect(c).toEqual({ port: 7753, bind: "127.0.0.1", domain: "corral.", service_ttl: 0, node_ttl: 0, udp_answer_limit: 3, tcp_idle_timeout: 10_000 });
  });

  test("node's resolver: A, SRV, NXDOMAIN, and a truncated answer retried over TCP", async () => {
    const r = resolverFor(port);
    expect((await r.resolve4("web.service.corral")).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect((await r.resolve4("primary.web.service.corral"))).toEqual(["10.0.0.1"]);
    expect((await r.resolve4("n1.node.corral"))).toEqual(["10.0.0.1"]);
    expect((await r.resolve6("v6.service.corral"))).toEqual(["fd00::4"]);
    const srv = await r.resolveSrv("_web._tcp.service.corral");
    expect(srv.map((s) => [s.name, s.port, s.priority, s.weight]).sort()).toEqual([
      ["n1.node.dc1.corral", 8080, 1, 1],
      ["n2.node.dc1.corral", 8080, 1, 1],
    ]);
    await expect(r.resolve4("nothere.service.corral")).rejects.toMatchObject({ code: "ENOTFOUND" });
    // 30 instances: UDP carries 3 with TC, the resolver retries over TCP and gets all.
    expect((await r.resolve4("big.service.corral")).length).toBe(30);
  });

  test("raw UDP: TC set and 3 answers for a big service", async () => {
    const p = await udpQuery(port, "big.service.corral", "A");
    expect([p.id, p.rcode, p.flag_tc, p.flag_aa, p.flag_rd, p.flag_ra]).toEqual([77, "NOERROR", true, true, true, false]);
    expect(p.answers).toHaveLength(3);
    const out = await udpQuery(port, "example.com", "A");
    expect(out.rcode).toBe("REFUSED");
  });

  test("raw TCP: several queries on one connection, answered in order, in full", async () => {
    const s = await connect(port);
    try {
      const got = readFrames(s, 3);
      s.write(Buffer.concat([frame(encodeQuery("big.service.corral", "A", 1)), frame(encodeQuery("web.service.corral", "SRV", 2))]));
      // The third one byte by byte: framing must reassemble it.
      const third = frame(encodeQuery("nothere.service.corral", "A", 3));
      for (const b of third) {
        s.write(Buffer.from([b]));
        await Bun.sleep(1);
      }
      const [a, b, c] = await got;
      expect([a!.id, a!.answers!.length, a!.flag_tc]).toEqual([1, 30, false]);
      expect([b!.id, b!.answers!.length, b!.additionals!.length]).toEqual([2, 2, 2]);
      expect([c!.id, c!.rcode]).toEqual([3, "NXDOMAIN"]);
    } finally {
      s.destroy();
    }
  });

  test("TCP: idle connections are closed; a zero-length frame ends the connection", async () => {
    const idle = await connect(port);
    const t0 = Date.now();
    await new Promise<void>((r) => idle.on("close", () => r()));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(Date.now() - t0).toBeLessThan(2000);

    const bad = await connect(port);
    const closed = new Promise<void>((r) => bad.on("close", () => r()));
    bad.write(Buffer.from([0, 0]));
    await closed;
  });

  test("metrics count queries by transport, type and rcode", async () => {
    await udpQuery(port, "web.service.corral", "A");
    const text = await h.metrics.metrics();
    expect(text).toMatch(/corral_dns_queries_total\{transport="udp",qtype="A",rcode="NOERROR"\} \d+/);
    expect(text).toMatch(/corral_dns_queries_total\{transport="tcp",qtype="A",rcode="NXDOMAIN"\} \d+/);
    expect(text).toMatch(/corral_dns_truncated_total\{transport="udp"\} \d+/);
  });

  test("disable releases the port; enable binds it again; reload too", async () => {
    expect((await h.host.disable("dns")).state).toBe("disabled");
    expect(await portIsFree(port)).toBe(true);
    expect(await h.metrics.metrics()).not.toContain("corral_dns_queries_total");
    expect((await h.host.enable("dns")).state).toBe("enabled");
    expect((await udpQuery(port, "web.service.corral", "A")).answers).toHaveLength(2);
    // An open TCP connection must not keep the port (or the reload) hanging.
    const s = await connect(port);
    expect((await h.host.reload("dns")).state).toBe("enabled");
    expect((await resolverFor(port).resolve4("n2.node.corral"))).toEqual(["10.0.0.2"]);
    s.destroy();
  });

  test("a port in use fails the plugin with a clear error and holds nothing", async () => {
    await h.host.disable("dns");
    // TCP taken: UDP binds first and must be released again.
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    const err = await h.host.enable("dns").then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe("PLUGIN_SETUP_FAILED");
    expect(err?.message).toContain(`127.0.0.1:${port}/tcp`);
    expect(err?.message).toContain("EADDRINUSE");
    const info = h.host.get("dns")!;
    expect(info.state).toBe("failed");
    expect(info.error).toContain("address already in use");
    await new Promise<void>((r) => blocker.close(() => r()));
    expect(await portIsFree(port)).toBe(true);

    // UDP taken.
    const u = dgram.createSocket("udp4");
    await new Promise<void>((r) => u.bind(port, "127.0.0.1", () => r()));
    await expect(h.host.enable("dns")).rejects.toThrow(/udp: address already in use/);
    await new Promise<void>((r) => u.close(() => r()));

    // Freed: enable works again.
    expect((await h.host.enable("dns")).state).toBe("enabled");
    expect((await udpQuery(port, "n1.node.corral", "A")).answers).toHaveLength(1);
  });

  test("port 0 picks a free port, the same for UDP and TCP", async () => {
    const plugin = createDnsPlugin({ catalog: () => standardCatalog() });
    const closers: Closeable[] = [];
    const ctx: PluginContext<DnsConfig> = {
      name: "dns",
      config: plugin.configSchema.parse({ port: 0 }),
      log: silentLogger,
      host: { nodeId: "i", nodeName: "n", role: "dev", dataDir: "/tmp", datacenter: "dc1" },
      route: () => {},
      every: () => ({ cancel() {} }),
      after: () => ({ cancel() {} }),
      own: (c) => (closers.push(c), c),
      state: emptyStateReader,
      propose: () => Promise.reject(new Error("no state in this test")),
      subscribe: () => ({ unsubscribe() {} }),
      publish: () => {},
      metrics: new ScopedMetrics(new Registry()),
      fail: () => {},
    };
    const handle = (await plugin.setup(ctx)) as DnsHandle;
    try {
      expect(handle.port).toBeGreaterThan(0);
      expect(closers).toHaveLength(2); // the UDP socket and the TCP server
      expect((await udpQuery(handle.port, "web.service.corral", "A")).answers).toHaveLength(2);
      expect((await resolverFor(handle.port).resolve4("big.service.corral")).length).toBe(30); // TCP, same port
    } finally {
      await handle.stop();
      for (const c of closers) await c.close();
    }
    expect(await portIsFree(handle.port)).toBe(true);
  });

  // dig runs asynchronously: the server lives in this process, so a blocking spawn would starve it.
  test("dig, when installed", async () => {
    const dig = Bun.which("dig");
    if (!dig) {
      console.log("skip: dig is not installed (apt-get install dnsutils); dig checks not run");
      return;
    }
    const run = async (...args: string[]) => {
      const p = Bun.spawn([dig, "@127.0.0.1", "-p", String(port), "+time=2", "+tries=1", ...args], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(p.stdout).text();
      await p.exited;
      return out;
    };
    const tcp = await run("web.service.corral.", "SRV", "+tcp");
    expect(tcp).toContain("status: NOERROR");
    expect(tcp).toMatch(/flags: qr aa rd;/);
    expect(tcp).toContain("ANSWER SECTION");
    expect(tcp).toMatch(/web\.service\.corral\.\s+0\s+IN\s+SRV\s+1 1 8080 n1\.node\.dc1\.corral\./);
    expect(tcp).toMatch(/n2\.node\.dc1\.corral\.\s+0\s+IN\s+A\s+10\.0\.0\.2/);
    const udp = await run("big.service.corral.", "A", "+ignore", "+noedns");
    expect(udp).toMatch(/flags: qr aa tc rd;/);
    expect(udp).toContain("ANSWER: 3,");
    const nx = await run("nothere.service.corral.", "A");
    expect(nx).toContain("status: NXDOMAIN");
    expect(nx).toMatch(/corral\.\s+0\s+IN\s+SOA\s+ns\.corral\. hostmaster\.corral\./);
    const refused = await run("example.com.", "A");
    expect(refused).toContain("status: REFUSED");
  });
});
