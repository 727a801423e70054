// Monitoring on a real dev process: /metrics (promtool, the series and their
// sanity), the event stream over HTTP (topics, plugin events, errors,
// `corral monitor`), node health thresholds fed by signed heartbeats, the
// metrics history route, and a resume across kill -9 and restart compared
// with the log table.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { BUN, ENTRY, ROOT, devSecretOf, eventually, getJson, killAll, signedPost, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { dataOf, openSse } from "../helpers/sse.ts";
import { find, parseProm, promtoolCheck, value } from "../helpers/prom.ts";

const CONFIG = `[leader]
cpu_warning_percent = 90
memory_warning_percent = 0
threshold_duration = "1s"
metrics_resolution = "1s"
`;

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev", config: CONFIG });
});
afterAll(killAll);

const scrape = async (path = "/metrics") => {
  const r = await fetch(p.url + path);
  expect(r.status).toBe(200);
  return { text: await r.text(), type: r.headers.get("content-type") };
};

describe("/metrics on a dev node", () => {
  test("passes promtool and carries the core series with sane values", async () => {
    const self = await eventually(async () => {
      const nodes = (await getJson<any[]>(p.url + "/v1/nodes")).body;
      return nodes.length === 1 && nodes[0];
    }, 10_000);
    await getJson(`${p.url}/v1/node/${self.id}`);
    await getJson(`${p.url}/v1/node/${self.name}`);
    await fetch(`${p.url}/v1/kv/metrics-test`, { method: "PUT", body: "x" });
    // The node's own heartbeat sample reaches the leader within a few heartbeats.
    const { text, type } = await eventually(async () => {
      const s = await scrape();
      return find(parseProm(s.text), "corral_node_cpu_percent").length > 0 && s;
    }, 15_000);
    expect(type).toStartWith("text/plain; version=0.0.4");
    const check = promtoolCheck(text);
    expect(check.output).toBe("");
    expect(check.ok).toBe(true);

    const m = parseProm(text);
    expect(value(m, "corral_raft_is_leader")).toBe(1);
    expect(value(m, "corral_raft_peers")).toBe(1);
    expect(value(m, "corral_raft_term")).toBeGreaterThanOrEqual(1);
    const commit = value(m, "corral_raft_commit_index")!;
    const applied = value(m, "corral_raft_applied_index")!;
    expect(applied).toBeGreaterThan(0);
    expect(commit).toBeGreaterThanOrEqual(applied);
    expect(value(m, "corral_raft_leader_changes_total")).toBeGreaterThanOrEqual(1);
    expect(value(m, "corral_raft_apply_duration_seconds_count")).toBeGreaterThan(0);
    expect(find(m, "corral_raft_apply_duration_seconds_bucket").length).toBeGreaterThan(5);
    expect(value(m, "corral_nodes", { status: "ready" })).toBe(1);
    expect(value(m, "corral_nodes", { status: "down" })).toBe(0);
    const cpu = value(m, "corral_node_cpu_percent", { node: self.name })!;
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(cpu).toBeLessThanOrEqual(100);
    expect(value(m, "corral_node_memory_used_bytes", { node: self.name })).toBeGreaterThan(0);
    expect(value(m, "corral_node_memory_available_bytes", { node: self.name })).toBeGreaterThan(0);
    expect(value(m, "corral_plugin_state", { plugin: "probe", state: "enabled" })).toBe(1);
    expect(value(m, "corral_plugin_state", { plugin: "probe", state: "failed" })).toBe(0);
    expect(find(m, "corral_build_info")[0]!.labels).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), runtime: "bun" });
    // Route patterns, never raw ids or names, as labels.
    expect(value(m, "corral_http_requests_total", { method: "GET", route: "/v1/node/{id}", status: "200" })).toBe(2);
    expect(value(m, "corral_http_requests_total", { method: "PUT", route: "/v1/kv/{key}", status: "200" })).toBe(1);
    expect(find(m, "corral_http_requests_total").some((s) => s.labels.route!.includes(self.id))).toBe(false);
    expect(value(m, "corral_http_request_duration_seconds_count", { method: "GET", route: "/v1/node/{id}" })).toBe(2);
    // corral_checks counts the catalog's checks by status (the dev node registered none here).
    expect(text).toContain("# TYPE corral_checks gauge");
    expect(value(m, "corral_checks", { status: "passing" })).toBeGreaterThanOrEqual(0);
    expect(value(m, "corral_checks", { status: "critical" })).toBeGreaterThanOrEqual(0);
    // Default process metrics, minus the three non-conforming *_total gauges.
    expect(value(m, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(find(m, "nodejs_active_handles_total")).toEqual([]);
  }, 30_000);

  test("/v1/agent/metrics: Prometheus text with ?format=prometheus, JSON otherwise", async () => {
    const prom = await scrape("/v1/agent/metrics?format=prometheus");
    expect(prom.type).toStartWith("text/plain; version=0.0.4");
    expect(prom.text).toContain("corral_raft_term");
    const json = await getJson<any[]>(p.url + "/v1/agent/metrics");
    expect(json.body.find((x) => x.name === "corral_raft_is_leader").values[0].value).toBe(1);
    const bad = await getJson(p.url + "/v1/agent/metrics?format=xml");
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("INVALID_INPUT");
  });

  test("corral_checks counts the catalog's checks by status", async () => {
    const reg = await fetch(p.url + "/v1/agent/service/register", {
      method: "PUT", headers: { "content-type": "application/json" },
      body: JSON.stringify({ ID: "m-1", Name: "metered", Port: 1, Check: { CheckID: "m-1-ttl", TTL: "30s" } }),
    });
    expect(reg.status).toBe(200);
    const critical = await eventually(async () => {
      const v = value(parseProm((await scrape()).text), "corral_checks", { status: "critical" });
      return (v ?? 0) >= 1 && v;
    }, 5000);
    expect(critical).toBeGreaterThanOrEqual(1);
    await fetch(p.url + "/v1/agent/check/pass/m-1-ttl", { method: "PUT" });
    await eventually(async () => (value(parseProm((await scrape()).text), "corral_checks", { status: "passing" }) ?? 0) >= 1, 5000);
  });
});

describe("/v1/events on a dev node", () => {
  test("topics filter, repeated or comma-separated; ids are log indexes", async () => {
    const start = Number((await getJson(p.url + "/v1/nodes")).headers.get("x-corral-index"));
    const kvOnly = await openSse(`${p.url}/v1/events?topic=kv&index=${start}`);
    const kvNode = await openSse(`${p.url}/v1/events?topic=node,leader&topic=kv&index=${start}`);
    expect(kvOnly.status).toBe(200);
    for (const k of ["t/1", "t/2"]) expect((await fetch(`${p.url}/v1/kv/${k}`, { method: "PUT", body: "secret-value" })).status).toBe(200);
    await fetch(`${p.url}/v1/kv/t/1`, { method: "DELETE" });
    await kvOnly.until((m) => m.length === 3);
    const events = dataOf(kvOnly.messages);
    expect(events.map((e) => [e.type, e.payload.key, e.payload.operation])).toEqual([
      ["KeyWritten", "t/1", "set"], ["KeyWritten", "t/2", "set"], ["KeyDeleted", "t/1", "delete"],
    ]);
    expect(kvOnly.messages.map((m) => Number(m.id))).toEqual(events.map((e) => e.index));
    expect(kvOnly.raw()).not.toContain(Buffer.from("secret-value").toString("base64"));
    await kvNode.until((m) => m.filter((x) => x.event === "kv").length === 3);
    expect(new Set(kvNode.messages.map((m) => m.event)).size).toBeLessThanOrEqual(3);
    for (const s of [kvOnly, kvNode]) await s.cancel();
  });

  test("bad input is a JSON 400; Last-Event-ID wins over ?index", async () => {
    for (const q of ["topic=nodes", "topic=kv,bogus", "index=-1", "index=abc"]) {
      const r = await getJson(`${p.url}/v1/events?${q}`);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: expect.any(String), code: "INVALID_INPUT" });
    }
    expect((await getJson(`${p.url}/v1/events`, { headers: { "last-event-id": "x" } })).status).toBe(400);
    const put = await fetch(`${p.url}/v1/kv/lei`, { method: "PUT", body: "1" });
    expect(put.status).toBe(200);
    const applied = Number((await getJson(p.url + "/v1/nodes")).headers.get("x-corral-index"));
    // ?index=0 would replay everything; the header says "after `applied`".
    const s = await openSse(`${p.url}/v1/events?topic=kv&index=0`, { "last-event-id": String(applied) });
    await fetch(`${p.url}/v1/kv/lei2`, { method: "PUT", body: "2" });
    await s.until((m) => m.length >= 1);
    expect(dataOf(s.messages).map((e) => e.payload.key)).toEqual(["lei2"]);
    await s.cancel();
  });

  test("streams are counted, and released when their client goes away", async () => {
    const streams = async () => value(parseProm((await scrape()).text), "corral_event_streams");
    await eventually(async () => (await streams()) === 0, 5000);
    const a = await openSse(`${p.url}/v1/events`);
    const b = await openSse(`${p.url}/v1/events?topic=kv`);
    expect(await streams()).toBe(2);
    await a.cancel();
    await b.cancel();
    await eventually(async () => (await streams()) === 0, 5000);
  });

  test("plugin state changes are live events without an id", async () => {
    const s = await openSse(`${p.url}/v1/events?topic=plugin`);
    expect((await getJson(p.url + "/v1/plugins/dns", { method: "PUT", body: '{"enabled":false}', headers: { "content-type": "application/json" } })).status).toBe(200);
    expect((await getJson(p.url + "/v1/plugins/dns", { method: "PUT", body: '{"enabled":true}', headers: { "content-type": "application/json" } })).status).toBe(200);
    await s.until((m) => m.length >= 2);
    expect(s.messages.every((m) => m.id === undefined && m.event === "plugin")).toBe(true);
    expect(dataOf(s.messages).map((e) => [e.payload.name, e.payload.state])).toEqual([["dns", "disabled"], ["dns", "enabled"]]);
    await s.cancel();
  });

  test("corral monitor prints one line per event, --json for scripts", async () => {
    const monitor = (...args: string[]) =>
      spawnSync(BUN, [ENTRY, "monitor", "--addr", p.url, ...args], { cwd: ROOT, encoding: "utf8", timeout: 15_000 });
    const json = monitor("--index", "0", "--topic", "kv", "--max-events", "2", "--json");
    expect(json.status).toBe(0);
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.topic, l.payload.key])).toEqual([["kv", "metrics-test"], ["kv", "t/1"]]);
    const human = monitor("--index", "0", "--topic", "kv,leader", "--max-events", "2");
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:]+Z {2}#\d+ {2}leader +LeaderElected {2}leader=127\.0\.0\.1:\d+ term=\d+\n/);
    const bad = monitor("--topic", "nope");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('unknown topic "nope"');
  }, 30_000);
});

describe("node health thresholds and metrics history", () => {
  test("a node fed high CPU heartbeats turns warning, then passing; both through the log", async () => {
    const secret = devSecretOf(p.dataDir);
    const id = randomUUID();
    const join = await signedPost(p.url, "/v1/cluster/join", secret, {
      id, name: "hot-node", address: "127.0.0.1:1", datacenter: "dc1", role: "agent", attributes: {},
      resources: { cpuMhz: 2000, cores: 2, memoryBytes: 4e9, diskBytes: 1e10 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
    });
    expect(join.status).toBe(200);
    const stream = await openSse(`${p.url}/v1/events?topic=node&index=${join.body.index}`);
    const health = async () => (await getJson(`${p.url}/v1/node/${id}`)).body;
    // Heartbeats every 100 ms until the health turns (the leader needs 1 s of samples on one side).
    const beatUntil = async (cpu: number, want: string) => {
      const started = Date.now();
      for (;;) {
        const sample = { time: Date.now(), cpuPercent: cpu, memoryUsedBytes: 1e9, memoryAvailableBytes: 3e9, load1: 1, load5: 1, load15: 1 };
        expect((await signedPost(p.url, "/v1/cluster/heartbeat", secret, { id, sample })).status).toBe(200);
        const h = await health();
        if (h.health === want) return { node: h, afterMs: Date.now() - started };
        if (Date.now() - started > 15_000) throw new Error(`health still ${h.health} after 15 s of cpu ${cpu}`);
        await sleep(100);
      }
    };

    const warned = await beatUntil(99, "warning");
    expect(warned.afterMs).toBeGreaterThanOrEqual(1000); // not before threshold_duration
    expect(warned.node.healthReason).toBe("cpu 99.0% > 90% for 1s");
    expect((await getJson<any[]>(p.url + "/v1/nodes")).body.find((n) => n.id === id).health).toBe("warning");
    const cleared = await beatUntil(10, "passing");
    expect(cleared.afterMs).toBeGreaterThanOrEqual(1000);
    expect(cleared.node.healthReason).toContain("under their thresholds");

    await stream.until((m) => dataOf(m).filter((e) => e.type === "NodeHealthChanged").length === 2);
    const changes = dataOf(stream.messages).filter((e) => e.type === "NodeHealthChanged");
    expect(changes.map((e) => [e.payload.id, e.payload.name, e.payload.health])).toEqual([[id, "hot-node", "warning"], [id, "hot-node", "passing"]]);
    await stream.cancel();

    // The history: 1 s buckets of the samples just sent.
    const hist = (await getJson(`${p.url}/v1/node/hot-node/metrics`)).body;
    expect(hist).toMatchObject({ nodeId: id, name: "hot-node", resolutionMs: 1000, retentionMs: 3_600_000, health: { status: "passing" } });
    expect(hist.thresholds).toEqual({ cpuPercent: 90, memoryPercent: 0, durationMs: 1000 });
    expect(hist.latest.cpuPercent).toBe(10);
    expect(hist.points.length).toBeGreaterThanOrEqual(2);
    expect(hist.points.some((pt: any) => pt.cpuPercentMax === 99)).toBe(true);
    expect(hist.points.reduce((n: number, pt: any) => n + pt.samples, 0)).toBeGreaterThanOrEqual(4);
    const recent = (await getJson(`${p.url}/v1/node/${id}/metrics?since=1s`)).body.points;
    expect(recent.length).toBeLessThan(hist.points.length);
    const sinceEpoch = (await getJson(`${p.url}/v1/node/${id}/metrics?since=${hist.points.at(-1).time}`)).body.points;
    expect(sinceEpoch).toHaveLength(1);
    const bad = await getJson(`${p.url}/v1/node/${id}/metrics?since=yesterday`);
    expect([bad.status, bad.body.code]).toEqual([400, "INVALID_INPUT"]);
    expect((await getJson(`${p.url}/v1/node/nope/metrics`)).body.code).toBe("NODE_NOT_FOUND");
  }, 30_000);
});

describe("resume across a restart", () => {
  test("kill -9 mid-stream, restart, resume with Last-Event-ID: no gap, no duplicate against the log", async () => {
    const start = Number((await getJson(p.url + "/v1/nodes")).headers.get("x-corral-index"));
    const first = await openSse(`${p.url}/v1/events?topic=kv&index=${start}`);
    // `corral monitor` follows the same stream and reconnects by itself.
    const cli = spawn(BUN, [ENTRY, "monitor", "--addr", p.url, "--topic", "kv", "--index", String(start), "--json"], { cwd: ROOT });
    let cliOut = "";
    cli.stdout.on("data", (d) => (cliOut += d));
    let written = 0;
    const put = async (i: number) => {
      for (;;) {
        const r = await fetch(`${p.url}/v1/kv/r/${i}`, { method: "PUT", body: String(i), signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        if (r?.status === 200) return;
        await sleep(50); // the node is down or restarting: try again
      }
    };
    for (; written < 15; written++) await put(written);
    await first.until((m) => m.length >= 15);
    const writer = (async () => {
      for (; written < 40; written++) await put(written);
    })();
    await sleep(30);
    await p.kill("SIGKILL");
    await first.ended;
    const lastId = first.messages.at(-1)!.id!;
    p = await startCorral({ role: "dev", dataDir: p.dataDir, port: p.port, config: CONFIG });
    await writer;
    const second = await openSse(`${p.url}/v1/events?topic=kv`, { "last-event-id": lastId });
    await fetch(`${p.url}/v1/kv/r/end`, { method: "PUT", body: "end" });
    await second.until((m) => dataOf(m).some((e) => e.payload.key === "r/end"));
    const seen = [...first.messages, ...second.messages].map((m) => Number(m.id));
    await second.cancel();
    await eventually(() => cliOut.includes('"key":"r/end"'), 30_000);
    cli.kill("SIGKILL");
    const cliSeen = cliOut.trim().split("\n").map((l) => JSON.parse(l).index);
    await p.kill("SIGKILL");

    const db = new Database(join(p.dataDir, "state.db"));
    const rows = db.query("SELECT idx, data FROM log WHERE kind = 'normal' AND idx > ? ORDER BY idx").all(start) as { idx: number; data: string }[];
    db.close();
    const logged = rows.filter((r) => JSON.parse(r.data).type.startsWith("KV")).map((r) => r.idx);
    expect(seen).toEqual(logged);
    expect(cliSeen).toEqual(logged);
    expect(new Set(seen).size).toBe(seen.length);
    expect(logged.length).toBeGreaterThanOrEqual(41);
  }, 90_000);
});
