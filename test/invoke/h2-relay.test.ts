// The h2 relay (plugins/invoke/h2/relay.ts) at the frame level, through a
// real dev node's proxy listener: instances are h2c servers in this test
// process (node:http2, so the test sees what reached them: resets, bodies,
// trailers) or real grpc-js servers; clients are node:http2, grpc-js or a raw
// socket writing frames. Flow control is checked by peers that enforce it
// (node:http2 fails a stream that gets more than its window), with windows
// far smaller than the bodies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import net from "node:net";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { proxyPort, register, waitPassing } from "./helpers.ts";
import { clientStream, echoClient, killGrpcBackends, startGrpcBackend, unary, type EchoClient } from "./grpc-helpers.ts";

let node: CorralProcess;
let port = 0;
let client: EchoClient;
/** What the in-test instance saw of each stream, by the x-tag header the client sent. */
const seen = new Map<string, { body: number; trailers?: http2.IncomingHttpHeaders; rst?: number; aborted: Promise<number> }>();
const servers: http2.Http2Server[] = [];
/** The sessions corral opened to the in-test instances (to send GOAWAY on). */
const sessions: http2.ServerHttp2Session[] = [];
/** Streams open at once at the in-test instances (the one limited to 2 is the only one used concurrently). */
const concurrent = { now: 0, max: 0 };

/** An h2c instance with small windows (16 KiB per stream) that acts on the request's x-act header. */
async function startInstance(maxConcurrentStreams?: number): Promise<number> {
  const server = http2.createServer({ settings: { initialWindowSize: 16_384, ...(maxConcurrentStreams ? { maxConcurrentStreams } : {}) } });
  server.on("session", (sess) => sessions.push(sess));
  server.on("stream", (st, h) => {
    concurrent.now++;
    concurrent.max = Math.max(concurrent.max, concurrent.now);
    st.once("close", () => concurrent.now--);
    const tag = String(h["x-tag"] ?? "");
    let closed!: (code: number) => void;
    const rec = { body: 0, trailers: undefined as http2.IncomingHttpHeaders | undefined, rst: undefined as number | undefined, aborted: new Promise<number>((r) => (closed = r)) };
    seen.set(tag, rec);
    st.on("close", () => closed(st.rstCode ?? 0));
    st.on("error", () => {});
    st.on("data", (d: Buffer) => (rec.body += d.byteLength));
    st.on("trailers", (t) => (rec.trailers = t));
    const act = String(h["x-act"] ?? "");
    if (act === "big") {
      // 1 MiB answer: the client's window is smaller, so it arrives only as the client grants more.
      st.respond({ ":status": 200 });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let n = 0;
      const more = () => {
        while (n < 16) {
          n++;
          if (!st.write(chunk)) return void st.once("drain", more);
        }
        st.end();
      };
      more();
    } else if (act === "count") {
      // Reads the whole request body, then answers its size, with trailers.
      st.on("end", () => {
        st.respond({ ":status": 200 }, { waitForTrailers: true });
        st.once("wantTrailers", () => st.sendTrailers({ "x-count": String(rec.body), "x-req-trailer": String(rec.trailers?.["x-req-trailer"] ?? "") }));
        st.end(String(rec.body));
      });
      st.resume();
    } else if (act === "reset") {
      st.respond({ ":status": 200 });
      st.write("part");
      setTimeout(() => st.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), 50);
    } else if (act === "slow") {
      setTimeout(() => {
        st.respond({ ":status": 200 });
        st.end("slow");
      }, 100);
    } else if (act === "hang") {
      st.respond({ ":status": 200 });
      st.write("started");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  servers.push(server);
  return (server.address() as { port: number }).port;
}

/**
 * A minimal h2c instance written in frames: to each request (a HEADERS frame)
 * it answers 200 (HPACK static index 8), a DATA frame "part", then
 * RST_STREAM ENHANCE_YOUR_CALM (11).
 */
async function startResettingInstance(): Promise<number> {
  const frame = (type: number, flags: number, id: number, payload: Buffer) => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.byteLength, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(id, 5);
    return Buffer.concat([h, payload]);
  };
  const server = net.createServer((sock) => {
    sock.on("error", () => {});
    let buf = Buffer.alloc(0);
    let skipped = false;
    sock.write(frame(4, 0, 0, Buffer.alloc(0)));
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (!skipped) {
        if (buf.byteLength < 24) return;
        buf = buf.subarray(24);
        skipped = true;
      }
      while (buf.byteLength >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.byteLength < 9 + len) return;
        const [type, flags, id] = [buf[3]!, buf[4]!, buf.readUInt32BE(5) & 0x7fffffff];
        buf = buf.subarray(9 + len);
        if (type === 4 && !(flags & 1)) sock.write(frame(4, 1, 0, Buffer.alloc(0)));
        if (type === 1) {
          const code = Buffer.alloc(4);
          code.writeUInt32BE(11);
          sock.write(Buffer.concat([frame(1, 4, id, Buffer.from([0x88])), frame(0, 0, id, Buffer.from("part")), frame(3, 0, id, code)]));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  rawServers.push(server);
  return (server.address() as { port: number }).port;
}
const rawServers: net.Server[] = [];

beforeAll(async () => {
  node = await startCorral({ role: "dev", config: "[plugins.invoke]\nport = 0\ntry_timeout = \"5s\"\ntimeout = \"5s\"\n" });
  const [a, b] = await Promise.all([startGrpcBackend("a"), startGrpcBackend("b")]);
  await register(node, "echo", a!);
  await register(node, "echo", b!);
  await register(node, "h2", { id: "h2", port: await startInstance() });
  await register(node, "rst", { id: "rst", port: await startResettingInstance() });
  await register(node, "two", { id: "two", port: await startInstance(2) });
  await Promise.all([waitPassing(node, "echo", 2), waitPassing(node, "h2", 1), waitPassing(node, "rst", 1), waitPassing(node, "two", 1)]);
  port = await proxyPort(node);
  client = echoClient(port, "echo");
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const s of servers) s.close();
  for (const s of rawServers) s.close();
  await killGrpcBackends();
  await killAll();
});

function connect(settings: http2.Settings = {}): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`, { settings });
  s.on("error", () => {});
  return s;
}

/** A request's status, body, trailers and how its stream closed. */
function exchange(s: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, trailers?: http2.OutgoingHttpHeaders) {
  const req = s.request({ ":method": body ? "POST" : "GET", ":path": "/", ":authority": "h2", ...headers }, { endStream: !body, waitForTrailers: !!trailers });
  if (trailers) req.once("wantTrailers", () => req.sendTrailers(trailers));
  if (body) req.end(body);
  return new Promise<{ status: number; body: Buffer; trailers?: http2.IncomingHttpHeaders; rstCode: number; error?: string }>((resolve) => {
    let status = 0;
    let got: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let error: string | undefined;
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("trailers", (t) => (got = t));
    req.on("error", (e) => (error = String((e as Error).message)));
    req.on("close", () => resolve({ status, body: Buffer.concat(chunks), trailers: got, rstCode: req.rstCode ?? 0, error }));
  });
}

describe("the h2 relay", () => {
  test("a 1 MiB answer to a client whose window is 16 KiB arrives whole (the relay waits for the client's window updates)", async () => {
    const s = connect({ initialWindowSize: 16_384 });
    try {
      const r = await exchange(s, { "x-act": "big", "x-tag": "big" });
      expect([r.status, r.body.byteLength, r.error]).toEqual([200, 1 << 20, undefined]);
      expect(r.body.every((b) => b === 0x61)).toBe(true);
    } finally {
      s.close();
    }
  });

  test("a client that stops reading holds up only its own stream: another 1 MiB answer from the same instance still arrives", async () => {
    const stalled = connect({ initialWindowSize: 16_384 });
    const other = connect();
    try {
      const req = stalled.request({ ":method": "GET", ":path": "/", ":authority": "h2", "x-act": "big", "x-tag": "stalled" });
      req.on("error", () => {});
      req.pause(); // never read: its window stays shut, corral must not let it take the instance connection's window
      await new Promise((r) => req.once("response", r));
      await new Promise((r) => setTimeout(r, 300));
      const r = await Promise.race([exchange(other, { "x-act": "big", "x-tag": "unstalled" }), new Promise<null>((res) => setTimeout(() => res(null), 10_000))]);
      expect(r && [r.status, r.body.byteLength]).toEqual([200, 1 << 20]);
    } finally {
      stalled.destroy();
      other.close();
    }
  });

  test("an instance that sends GOAWAY (shutting down gracefully): the next call opens a new connection", async () => {
    const s = connect();
    try {
      expect((await exchange(s, { "x-act": "count", "x-tag": "before-goaway" }, Buffer.from("ab"))).body.toString()).toBe("2");
      const open = sessions.filter((x) => !x.closed && !x.destroyed);
      expect(open.length).toBeGreaterThan(0);
      for (const x of open) x.goaway(http2.constants.NGHTTP2_NO_ERROR);
      await new Promise((r) => setTimeout(r, 200));
      const before = sessions.length;
      const r = await Promise.race([exchange(s, { "x-act": "count", "x-tag": "after-goaway" }, Buffer.from("abcd")), new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
      expect(r && [r.status, r.body.toString()]).toEqual([200, "4"]);
      expect(sessions.length).toBe(before + 1);
    } finally {
      s.close();
    }
  });

  test("a 3 MiB request body to an instance whose window is 16 KiB arrives whole, with the client's trailers", async () => {
    const s = connect();
    try {
      const body = Buffer.alloc(3 << 20, 0x62);
      const r = await exchange(s, { "x-act": "count", "x-tag": "upload" }, body, { "x-req-trailer": "sent-last" });
      expect([r.status, r.body.toString(), r.error]).toEqual([200, String(3 << 20), undefined]);
      expect(r.trailers?.["x-count"]).toBe(String(3 << 20));
      expect(r.trailers?.["x-req-trailer"]).toBe("sent-last");
    } finally {
      s.close();
    }
  });

  test("200 concurrent gRPC calls on one client connection: all answered, spread over both instances", async () => {
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => unary(client, `c${i}`)));
    expect(rs.map((r) => r.message)).toEqual(Array.from({ length: 200 }, (_, i) => `c${i}`));
    const by = new Set(rs.map((r) => r.id));
    expect(by).toEqual(new Set(["a", "b"]));
  });

  test("an instance taking 2 streams at a time (SETTINGS_MAX_CONCURRENT_STREAMS): 10 concurrent calls wait their turn, none refused", async () => {
    const s = connect();
    try {
      concurrent.max = 0;
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => exchange(s, { ":authority": "two", "x-act": "slow", "x-tag": `two${i}` })));
      expect(rs.map((r) => [r.status, r.body.toString(), r.rstCode])).toEqual(Array.from({ length: 10 }, () => [200, "slow", 0]));
      expect(concurrent.max).toBe(2);
    } finally {
      s.close();
    }
  });

  test("client streaming 3 MiB in 64 KiB messages (grpc-js both ends)", async () => {
    const msgs = Array.from({ length: 48 }, (_, i) => String(i % 10).repeat(64 * 1024));
    const r = await clientStream(client, msgs);
    expect(r.message.length).toBe(48 * 64 * 1024 + 47);
  });

  test("the instance resets its stream mid-answer: the client's stream is reset with the same code", async () => {
    // node:http2 in Bun ends a stream it is asked to close(code) with END_STREAM, not RST_STREAM: the instance is raw frames.
    const s = connect();
    try {
      const r = await exchange(s, { ":authority": "rst" });
      expect([r.status, r.body.toString()]).toEqual([200, "part"]);
      expect(r.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    } finally {
      s.close();
    }
  });

  test("the client resets its stream: the instance's stream is cancelled", async () => {
    const s = connect();
    try {
      const req = s.request({ ":method": "GET", ":path": "/", ":authority": "h2", "x-act": "hang", "x-tag": "cancel" });
      req.on("error", () => {});
      await new Promise((r) => req.once("response", r));
      req.close(http2.constants.NGHTTP2_CANCEL);
      const code = await Promise.race([seen.get("cancel")!.aborted, new Promise((r) => setTimeout(() => r("still open"), 5000))]);
      expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
    } finally {
      s.close();
    }
  });

  test("a header list over 64 KiB: 431 for that stream, the connection goes on", async () => {
    const s = connect();
    try {
      // 80 KiB in 40 fields (Bun's client cannot encode one 70 KiB field); it arrives as HEADERS + CONTINUATION frames.
      const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-big-${i}`, "v".repeat(2048)]));
      const big = await exchange(s, { "x-tag": "big-head", ...fields });
      expect(big.status).toBe(431);
      expect(JSON.parse(big.body.toString()).code).toBe("HEADERS_TOO_LARGE");
      const after = await exchange(s, { "x-act": "count", "x-tag": "after-big" }, Buffer.from("abc"));
      expect(after.body.toString()).toBe("3");
    } finally {
      s.close();
    }
  });

  test("a client that breaks the protocol gets GOAWAY and its connection closed; the listener serves the next one", async () => {
    const sock = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    sock.on("data", (d) => got.push(d));
    await new Promise((r) => sock.once("connect", r));
    // The preface, then DATA on stream 0 instead of SETTINGS.
    sock.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0x78])]));
    await new Promise((r) => sock.once("close", r));
    const all = Buffer.concat(got);
    // Frames back: our SETTINGS (and a window update) then GOAWAY (type 7) with PROTOCOL_ERROR (1).
    const types: number[] = [];
    let goawayCode = -1;
    for (let p = 0; p + 9 <= all.byteLength; ) {
      const len = all.readUIntBE(p, 3);
      types.push(all[p + 3]!);
      if (all[p + 3] === 7) goawayCode = all.readUInt32BE(p + 9 + 4);
      p += 9 + len;
    }
    expect(types).toContain(7);
    expect(goawayCode).toBe(1);
    expect((await unary(client, "still here")).message).toBe("still here");
  });
});
