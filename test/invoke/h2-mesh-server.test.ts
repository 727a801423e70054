// The mesh listener's h2 side (plugins/invoke/h2/mesh-server-h2.ts) in
// process, real sockets: connections handed over with the peer their
// certificate proved (here: plain TCP, the TLS part is mesh-server.ts's and
// test/connect/mesh-grpc.test.ts's), a real h2c instance behind it.
//   - an idle connection is closed; one with an open, quiet stream is kept;
//   - an instance cannot make the source agent take its answer for the
//     destination's "failed before the instance" (x-corral-mesh-failure);
//   - with spans on, the hop is a SERVER span, child of the source's, parent
//     of the instance's, with the gRPC status of the answer's trailers.
import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import net from "node:net";
import { MeshH2Server } from "../../plugins/invoke/h2/mesh-server-h2.ts";
import type { MeshPeer } from "../../plugins/invoke/mesh-server.ts";
import { Endpoint } from "../../plugins/invoke/pool.ts";
import type { SpanRecord } from "../../plugins/invoke/spans.ts";
import { TraceIds } from "../../plugins/invoke/trace.ts";

const log = { debug() {}, info() {}, warn() {}, error() {} } as never;
let instancePort = 0;
let meshPort = 0;
const instance = http2.createServer();
const mesh = new MeshH2Server({
  log, idleMs: 300,
  authorize: async (source) => ({ allowed: source === "web", reason: source === "web" ? "allowed" : "denied" }),
  localInstance: async () => new Endpoint({ key: "n/files-1", node: "n", serviceId: "files-1", address: "127.0.0.1", port: instancePort, weight: 1 }, Date.now()),
});
const peer: MeshPeer = { kind: "service", service: "web", uri: "spiffe://td.corral/ns/default/svc/web" };
const listener = net.createServer((sock) => mesh.serve(sock, peer));
// The same with spans recorded (OTLP export on).
const spans: SpanRecord[] = [];
const trace = new TraceIds();
trace.recording = true;
const traced = new MeshH2Server({
  log, spans: { trace, sink: { push: (sp) => void spans.push(sp) } },
  authorize: async () => ({ allowed: true, reason: "allowed" }),
  localInstance: async () => new Endpoint({ key: "n/files-1", node: "n", serviceId: "files-1", address: "127.0.0.1", port: instancePort, weight: 1 }, Date.now()),
});
const tracedListener = net.createServer((sock) => traced.serve(sock, peer));
let tracedPort = 0;

beforeAll(async () => {
  instance.on("stream", (stream, h) => {
    if (h[":path"] === "/grpc") {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "x-seen-traceparent": String(h.traceparent ?? "") }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "5", "grpc-message": "nothing" }));
      stream.end();
      return;
    }
    if (h[":path"] === "/hold") {
      stream.respond({ ":status": 200 });
      stream.write("open"); // and never ends
      return;
    }
    stream.respond({ ":status": 200, "x-corral-mesh-failure": "refused", "x-seen-xfcc": String(h["x-forwarded-client-cert"] ?? "") });
    stream.end("ok");
  });
  await new Promise<void>((r) => instance.listen(0, "127.0.0.1", () => r()));
  instancePort = (instance.address() as { port: number }).port;
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", () => r()));
  meshPort = (listener.address() as { port: number }).port;
  await new Promise<void>((r) => tracedListener.listen(0, "127.0.0.1", () => r()));
  tracedPort = (tracedListener.address() as { port: number }).port;
});

afterAll(() => {
  mesh.close();
  traced.close();
  tracedListener.close();
  listener.close();
  instance.close();
});

const closed = (s: http2.ClientHttp2Session) => new Promise<void>((r) => (s.closed || s.destroyed ? r() : s.once("close", () => r())));

test("the instance's own x-corral-mesh-failure is removed; the caller reaches it as the certificate says", async () => {
  const s = http2.connect(`http://127.0.0.1:${meshPort}`);
  try {
    const req = s.request({ ":path": "/x", "x-corral-mesh-service": "files", "x-forwarded-client-cert": "URI=forged" }, { endStream: true });
    const h = await new Promise<http2.IncomingHttpHeaders>((r) => req.once("response", r));
    req.resume();
    expect([h[":status"], h["x-corral-mesh-failure"], h["x-seen-xfcc"]] as unknown[]).toEqual([200, undefined, `URI=${peer.kind === "service" ? peer.uri : ""}`]);
  } finally {
    s.close();
  }
});

test("an idle connection is closed; one with an open quiet stream is kept", async () => {
  const idle = http2.connect(`http://127.0.0.1:${meshPort}`);
  idle.on("error", () => {});
  const busy = http2.connect(`http://127.0.0.1:${meshPort}`);
  busy.on("error", () => {});
  const hold = busy.request({ ":path": "/hold", "x-corral-mesh-service": "files" }, { endStream: true });
  await new Promise((r) => hold.once("response", r));
  hold.resume();
  const t0 = Date.now();
  await closed(idle);
  expect(Date.now() - t0).toBeLessThan(5000);
  await Bun.sleep(900);
  expect(busy.closed || busy.destroyed).toBe(false);
  hold.close();
  await closed(busy);
});

test("with spans on: a SERVER span, child of the source's, parent of the instance's, with the answer's gRPC status", async () => {
  const s = http2.connect(`http://127.0.0.1:${tracedPort}`);
  try {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const req = s.request({ ":path": "/grpc", ":method": "POST", "content-type": "application/grpc", "x-corral-mesh-service": "files", traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    req.end();
    const h = await new Promise<http2.IncomingHttpHeaders>((r) => req.once("response", r));
    req.resume();
    await new Promise((r) => req.once("close", r));
    await Bun.sleep(50);
    expect(spans).toHaveLength(1);
    const sp = spans[0]!;
    expect([sp.traceId, sp.parentSpanId, sp.kind, sp.name]).toEqual([traceId, "00f067aa0ba902b7", 2, "POST files"]);
    expect(h["x-seen-traceparent"]).toBe(`00-${traceId}-${sp.spanId}-01`);
    expect(sp.attributes).toMatchObject({ "peer.service": "files", "corral.mesh.source": "web", "http.response.status_code": 200, "rpc.grpc.status_code": 5 });
    expect(sp.error).toBeUndefined();
  } finally {
    s.close();
  }
});
