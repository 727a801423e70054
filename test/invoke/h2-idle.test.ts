// The h2 side of the proxy listener closes a client connection that has had
// no open stream for its idle time — but not one whose stream is open and
// quiet. A real listener socket (Bun.listen, the sockets engine's handover)
// and a real node:http2 client; idle time shortened to 300 ms. Both h2
// servers: the frame relay the listener uses (relay.ts) and the node:http2
// front (front.ts).
import { afterAll, expect, test } from "bun:test";
import http2 from "node:http2";
import { H2Front } from "../../plugins/invoke/h2/front.ts";
import { H2Relay, type H2Server } from "../../plugins/invoke/h2/relay.ts";
import { H2Sessions } from "../../plugins/invoke/h2/sessions.ts";
import { HostRouter } from "../../plugins/invoke/listener.ts";
import type { Invoker } from "../../plugins/invoke/invoker.ts";
import type { TraceIds } from "../../plugins/invoke/trace.ts";
import { Refusal } from "../../plugins/invoke/invoker.ts";

const log = { debug() {}, info() {}, warn() {}, error() {} } as never;
// No instance is ever called: admit answers "unknown service" for every name, at once.
const invoker = { admit: () => new Refusal(404, "UNKNOWN_SERVICE", "no such service"), cfg: { max_request_bytes: 0 }, d: { authorizer: { enabled: () => false } } } as unknown as Invoker;
const servers: { stop(force: boolean): void }[] = [];
const fronts: H2Server[] = [];

/** A listener whose connections are all handed to `front` at their first bytes (as listen.ts does after the preface). */
function listen(front: H2Server): number {
  fronts.push(front);
  const server = Bun.listen<{ onData(d: Buffer): void; out: { drain(): void }; onClose(): void } | null>({
    hostname: "127.0.0.1", port: 0,
    socket: {
      open: (s) => void (s.data = null),
      data: (s, d) => {
        if (s.data) s.data.onData(d);
        else s.data = front.adopt(s as never, Buffer.from(d));
      },
      drain: (s) => s.data?.out.drain(),
      close: (s) => s.data?.onClose(),
    },
  });
  servers.push(server);
  return server.port;
}

afterAll(() => {
  for (const s of servers) s.stop(true);
  for (const f of fronts) f.close();
});

function closedWithin(c: http2.ClientHttp2Session, ms: number): Promise<boolean> {
  return new Promise((r) => {
    const t = setTimeout(() => r(false), ms);
    c.once("close", () => (clearTimeout(t), r(true)));
    c.on("error", () => {});
  });
}

for (const [name, make] of [
  ["relay.ts", () => new H2Relay({ invoker, router: new HostRouter("corral", "dc1"), trace: {} as TraceIds, log, idleMs: 300 })],
  ["front.ts", () => new H2Front({ invoker, router: new HostRouter("corral", "dc1"), sessions: new H2Sessions(), trace: {} as TraceIds, log, idleMs: 300 })],
] as const) {
test(`${name}: a connection with no stream is closed after the idle time; one with an open quiet stream is kept`, async () => {
  const port = listen(make());
  const idle = http2.connect(`http://127.0.0.1:${port}`);
  const r = idle.request({ ":path": "/", ":authority": "web" });
  r.resume();
  r.end();
  await new Promise((res) => r.once("close", res)); // one call (404), then nothing
  expect(await closedWithin(idle, 3000)).toBe(true);

  const busy = http2.connect(`http://127.0.0.1:${port}`);
  const open = busy.request({ ":path": "/", ":authority": "web", ":method": "POST" }, { endStream: false });
  open.on("error", () => {});
  // The 404 answer ends the server's side only once our side ends too: the stream stays open meanwhile.
  expect(await closedWithin(busy, 1000)).toBe(false);
  busy.destroy();
});
}
