// The mesh listener's h2 side (plugins/invoke/h2/mesh-server-h2.ts) in
// process, real sockets: connections handed over with the peer their
// certificate proved (here: plain TCP, the TLS part is mesh-server.ts's and
// test/connect/mesh-grpc.test.ts's), a real h2c instance behind it.
//   - an idle connection is closed; one with an open, quiet stream is kept;
//   - an instance cannot make the source agent take its answer for the
//     destination's "failed before the instance" (x-corral-mesh-failure).
import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import net from "node:net";
import { MeshH2Server } from "../../plugins/invoke/h2/mesh-server-h2.ts";
import type { MeshPeer } from "../../plugins/invoke/mesh-server.ts";
import { Endpoint } from "../../plugins/invoke/pool.ts";

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

beforeAll(async () => {
  instance.on("stream", (stream, h) => {
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
});

afterAll(() => {
  mesh.close();
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
