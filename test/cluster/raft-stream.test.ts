// The streaming peer transport (core/cluster/raft/stream-*.ts), end to end
// on real processes: peers stream their Raft messages (frames counted on the
// receivers' /metrics), the handshake is signed under the replay rules (a
// replayed, unsigned, forged or misdirected handshake is refused before any
// upgrade), a malformed frame closes the stream, and a peer that refuses
// streams (raft.stream = false, as an older release would) still replicates
// through the per-message fallback.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { signRequest } from "../../core/http/rpc-signature.ts";
import { CLUSTER_SECRET, TestCluster } from "../helpers/cluster.ts";
import { eventually, getJson } from "../helpers/proc.ts";

const STREAM_PATH = "/v1/raft/stream";

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** A raw HTTP/1.1 upgrade request, as an attacker would send it; the status line and the body of the answer. */
function rawUpgrade(port: number, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let buf = "";
    const lines = [
      `GET ${STREAM_PATH} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: Upgrade", "Upgrade: websocket",
      "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", "",
    ];
    sock.on("connect", () => sock.write(lines.join("\r\n")));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1]);
      // 101: the headers are all there is; otherwise wait for the JSON body.
      if (status === 101 && buf.includes("\r\n\r\n")) (sock.destroy(), resolve({ status, text: "" }));
      else if (status && /\}\s*$/.test(buf)) (sock.destroy(), resolve({ status, text: buf.slice(buf.indexOf("\r\n\r\n") + 4) }));
    });
    sock.on("error", reject);
    setTimeout(() => (sock.destroy(), reject(new Error(`no answer: ${JSON.stringify(buf)}`))), 10_000);
  });
}

const sign = (port: number, opts: { secret?: string; to?: string; method?: string } = {}) =>
  signRequest({ secret: opts.secret ?? CLUSTER_SECRET, node: "test-node" }, opts.method ?? "GET", STREAM_PATH, "", { to: opts.to ?? `127.0.0.1:${port}` });

describe("raft peer streams", () => {
  const c = new TestCluster({ size: 3, direct: true });
  let leader = 0;

  beforeAll(async () => {
    await c.start();
    leader = await c.waitLeader(20_000);
  }, 60_000);
  afterAll(() => c.stop());

  test("writes replicate, and the peers' messages travel on streams", async () => {
    for (let i = 0; i < 20; i++) {
      const r = await getJson(`${c.nodes[leader]!.url}/v1/kv/stream/${i}`, { method: "PUT", body: `v${i}` });
      expect(r.status).toBe(200);
    }
    // Every node receives frames on streams: the followers the leader's appends, the leader their answers.
    for (const n of c.nodes) await eventually(async () => (await metric(n.url, "corral_raft_stream_frames_total")) > 0, 10_000);
    for (const n of c.nodes) {
      await eventually(async () => (await getJson(`${n.url}/v1/kv/stream/19?stale&raw`)).body === "v19", 10_000);
    }
  }, 60_000);

  test("a handshake signed with the cluster secret is accepted; the same one again is refused as a replay", async () => {
    const port = c.nodes[0]!.port;
    const header = sign(port);
    const first = await rawUpgrade(port, { "X-Corral-Signature": header });
    expect(first.status).toBe(101);
    const again = await rawUpgrade(port, { "X-Corral-Signature": header });
    expect(again.status).toBe(401);
    expect(JSON.parse(again.text).code).toBe("SIGNATURE_REPLAYED");
  }, 30_000);

  test("unsigned, forged, re-targeted and misdirected handshakes are refused before any upgrade", async () => {
    const port = c.nodes[1]!.port;
    const cases: [Record<string, string>, string][] = [
      [{}, "SIGNATURE_MISSING"],
      [{ "X-Corral-Signature": sign(port, { secret: "not-the-cluster-secret-000000" }) }, "SIGNATURE_INVALID"],
      [{ "X-Corral-Signature": sign(port, { method: "POST" }) }, "SIGNATURE_INVALID"],
      [{ "X-Corral-Signature": sign(port, { to: `127.0.0.1:${c.nodes[2]!.port}` }) }, "SIGNATURE_WRONG_RECEIVER"],
      [{ "X-Corral-Signature": "t=1,sig=00" }, "SIGNATURE_MALFORMED"],
    ];
    for (const [headers, code] of cases) {
      const r = await rawUpgrade(port, headers);
      expect({ status: r.status, code: JSON.parse(r.text).code }).toEqual({ status: 401, code });
    }
  }, 30_000);

  test("a frame that is not a batch of Raft messages closes the stream (1008); a good one is acknowledged", async () => {
    const port = c.nodes[2]!.port;
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}${STREAM_PATH}`, { headers: { "X-Corral-Signature": sign(port) } } as unknown as string[]);
        ws.onopen = () => resolve(ws);
        ws.onerror = () => reject(new Error("handshake refused"));
      });
    const good = await open();
    const ack = new Promise<string>((r) => (good.onmessage = (e) => r(String(e.data))));
    // A message to nobody here: stepped and ignored, but acknowledged.
    good.send(JSON.stringify([{ type: "heartbeat", from: "127.0.0.1:1", to: "127.0.0.1:2", term: 0 }]));
    expect(JSON.parse(await ack)).toEqual({ ack: 1 });
    good.close();

    const bad = await open();
    const closed = new Promise<number>((r) => (bad.onclose = (e) => r(e.code)));
    bad.send("{not json");
    expect(await closed).toBe(1008);
  }, 30_000);
  test("a follower paused past the stream loss timeout catches up once resumed, and is streamed to again", async () => {
    const f = c.nodes.find((n) => n.index !== leader)!;
    const url = c.nodes[leader]!.url;
    f.proc!.child.kill("SIGSTOP");
    try {
      // The other follower makes the quorum; the leader's frames to the paused one go unacknowledged.
      for (let i = 0; i < 10; i++) expect((await getJson(`${url}/v1/kv/pause/${i}`, { method: "PUT", body: `p${i}` })).status).toBe(200);
      await Bun.sleep(3_000); // past the stream's loss timeout (2 election timeouts, 2 s here)
    } finally {
      f.proc!.child.kill("SIGCONT");
    }
    await eventually(async () => (await getJson(`${f.url}/v1/kv/pause/9?stale&raw`)).body === "p9", 20_000);
    const before = await metric(f.url, "corral_raft_stream_frames_total");
    for (let i = 10; i < 20; i++) expect((await getJson(`${url}/v1/kv/pause/${i}`, { method: "PUT", body: `p${i}` })).status).toBe(200);
    await eventually(async () => (await getJson(`${f.url}/v1/kv/pause/19?stale&raw`)).body === "p19", 20_000);
    await eventually(async () => (await metric(f.url, "corral_raft_stream_frames_total")) > before + 5, 20_000);
  }, 90_000);
});

describe("a peer that refuses streams", () => {
  // Node 2 runs with raft.stream = false: it answers the handshake 404, as a release without streams does.
  class Mixed extends TestCluster {
    override config(i: number): string {
      const base = super.config(i);
      return i === 2 ? base.replace("[raft]\n", "[raft]\nstream = false\n") : base;
    }
  }
  const c = new Mixed({ size: 3, direct: true });

  beforeAll(() => c.start(), 60_000);
  afterAll(() => c.stop());

  test("still replicates every write through per-message requests, in both roles", async () => {
    let leader = await c.waitLeader(20_000);
    // Once with the stream-refusing node following, once with it leading.
    for (const round of [0, 1]) {
      const want = round === 0 ? (leader === 2 ? 0 : leader) : 2;
      if (leader !== want) {
        const r = await getJson(`${c.nodes[leader]!.url}/v1/operator/raft/transfer-leader`, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ to: c.nodes[want]!.address }),
        });
        expect(r.status).toBe(200);
        // `eventually` waits for a truthy value: node 0 must not read as "not yet".
        await eventually(async () => (await c.leader()) === want, 15_000);
        leader = want;
      }
      for (let i = 0; i < 10; i++) {
        const r = await getJson(`${c.nodes[leader]!.url}/v1/kv/mixed/${round}-${i}`, { method: "PUT", body: `m${i}` });
        expect(r.status).toBe(200);
      }
      for (const n of c.nodes) await eventually(async () => (await getJson(`${n.url}/v1/kv/mixed/${round}-9?stale&raw`)).body === "m9", 10_000);
      if (round === 0) {
        // The leader streams to the other stream-enabled node.
        const other = c.nodes.find((n) => n.index !== 2 && n.index !== leader)!;
        await eventually(async () => (await metric(other.url, "corral_raft_stream_frames_total")) > 0, 10_000);
      }
    }
    expect(await metric(c.nodes[2]!.url, "corral_raft_stream_frames_total")).toBe(0);
    const refused = await rawUpgrade(c.nodes[2]!.port, { "X-Corral-Signature": sign(c.nodes[2]!.port) });
    expect(refused.status).toBe(404);
  }, 60_000);
});
