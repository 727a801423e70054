// The head an instance receives through the raw-socket listener, byte for
// byte, now that it is written into a buffer each client connection keeps
// and reuses (fast/head-bytes.ts) rather than built as a string per request:
// the client's fields as sent (obs-text bytes too), corral's forwarding
// fields, a fresh traceparent, the instance's Host — and nothing left over
// from a longer head sent before on the same connection, nor from a body.
// A real node (the binary), a raw TCP client and a raw TCP instance that
// records what it reads.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { proxyPort, register, waitPassing } from "./helpers.ts";

/** A raw HTTP/1.1 instance that records each request (head and body, latin-1) and answers 200 "ok". */
function recordingBackend() {
  const received: string[] = [];
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.toString("latin1", 0, end + 4);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const bodyEnd = end + 4 + (cl ? Number(cl[1]) : 0);
        if (buf.length < bodyEnd) return;
        received.push(buf.toString("latin1", 0, bodyEnd));
        buf = buf.subarray(bodyEnd);
        sock.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    });
    sock.on("error", () => {});
  });
  return { server, received };
}

/** One client connection: sends latin-1 text, waits for `n` answers in all. */
function rawClient(port: number) {
  const sock = net.connect(port, "127.0.0.1");
  let data = "";
  sock.on("data", (d) => (data += d.toString("latin1")));
  sock.on("error", () => {});
  return {
    send: (s: string) => sock.write(Buffer.from(s, "latin1")),
    async answers(n: number): Promise<string> {
      const deadline = Date.now() + 10_000;
      while ((data.match(/HTTP\/1\.1 200 OK/g) ?? []).length < n) {
        if (Date.now() > deadline) throw new Error(`no ${n} answers: ${JSON.stringify(data)}`);
        await Bun.sleep(10);
      }
      return data;
    },
    end: () => sock.destroy(),
  };
}

const backend = recordingBackend();
let node: CorralProcess;
let port = 0;
let bport = 0;

beforeAll(async () => {
  await new Promise<void>((r) => backend.server.listen(0, "127.0.0.1", () => r()));
  bport = (backend.server.address() as net.AddressInfo).port;
  node = await startCorral({ role: "dev", config: `[plugins]\nenabled = ["discovery", "invoke"]\nwatch = false\n\n[plugins.invoke]\nport = 0\n` });
  await register(node, "rec", { id: "r0", port: bport });
  await waitPassing(node, "rec", 1);
  port = await proxyPort(node);
}, 60_000);

afterAll(async () => {
  await killAll();
  backend.server.close();
});

/** What corral adds after the client's fields, up to the traceparent's ids (random, checked by TRACE_AND_HOST). */
const added = (host: string) => `x-forwarded-for: 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: ${host}\r\ntraceparent: 00-`;
const TRACE_AND_HOST = (bport: number) => new RegExp(`^[0-9a-f]{32}-[0-9a-f]{16}-01\\r\\nhost: 127\\.0\\.0\\.1:${bport}\\r\\n\\r\\n`);

describe("the head sent upstream through the raw-socket listener", () => {
  test("a 20 KB head with obs-text, then short ones on the same connection: each arrives whole, nothing of the one before", async () => {
    const big = "x".repeat(20_000);
    const c = rawClient(port);
    // obs-text (0x80-0xff) in a value: passed on as the same bytes.
    c.send(`GET /one?a=1 HTTP/1.1\r\nHost: rec\r\nX-Big: ${big}\r\nX-Latin: caf\u00e9 \u00ff\r\nConnection: keep-alive\r\n\r\n`);
    await c.answers(1);
    c.send("GET /two HTTP/1.1\r\nHost: rec\r\nAccept: */*\r\n\r\n");
    await c.answers(2);
    c.send("POST /three HTTP/1.1\r\nHost: rec\r\nContent-Length: 5\r\n\r\nhello");
    await c.answers(3);
    c.end();
    const got = backend.received.slice(-3);
    const [one, two, three] = got as [string, string, string];
    const pre1 = `GET /one?a=1 HTTP/1.1\r\nX-Big: ${big}\r\nX-Latin: caf\u00e9 \u00ff\r\n${added("rec")}`;
    expect(one.startsWith(pre1)).toBe(true);
    expect(one.slice(pre1.length)).toMatch(TRACE_AND_HOST(bport));
    expect(one.length).toBe(pre1.length + 52 + `\r\nhost: 127.0.0.1:${bport}\r\n\r\n`.length);
    const pre2 = `GET /two HTTP/1.1\r\nAccept: */*\r\n${added("rec")}`;
    expect(two.startsWith(pre2)).toBe(true);
    expect(two.slice(pre2.length)).toMatch(TRACE_AND_HOST(bport));
    expect(two.length).toBe(pre2.length + 52 + `\r\nhost: 127.0.0.1:${bport}\r\n\r\n`.length);
    const pre3 = `POST /three HTTP/1.1\r\nContent-Length: 5\r\n${added("rec")}`;
    expect(three.startsWith(pre3)).toBe(true);
    expect(three.slice(pre3.length)).toMatch(TRACE_AND_HOST(bport));
    expect(three.endsWith(`\r\n\r\nhello`)).toBe(true);
    expect(three.length).toBe(pre3.length + 52 + `\r\nhost: 127.0.0.1:${bport}\r\n\r\n`.length + 5);
    // Each request its own trace.
    const ids = got.map((r) => /traceparent: (\S+)/.exec(r)![1]);
    expect(new Set(ids).size).toBe(3);
  });

  test("buffered bodies below and above the size sent in the head's buffer arrive intact, with a kept trace and the path form", async () => {
    const c = rawClient(port);
    const small = "s".repeat(1000);
    const large = Array.from({ length: 12_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    c.send(`PUT /small HTTP/1.1\r\nHost: rec\r\nContent-Length: ${small.length}\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n${small}`);
    await c.answers(1);
    c.send(`PUT /v1/invoke/rec/large HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${large.length}\r\n\r\n${large}`);
    await c.answers(2);
    c.send("GET /after HTTP/1.1\r\nHost: rec\r\n\r\n");
    await c.answers(3);
    c.end();
    const [s, l, after] = backend.received.slice(-3) as [string, string, string];
    expect(s).toMatch(/^PUT \/small HTTP\/1\.1\r\nContent-Length: 1000\r\nx-forwarded-for: 127\.0\.0\.1\r\n/);
    expect(s).toMatch(/\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01\r\nhost: /);
    expect(s.endsWith(`\r\n\r\n${small}`)).toBe(true);
    expect(l).toMatch(/^PUT \/large HTTP\/1\.1\r\nContent-Length: 12000\r\n/);
    expect(l.endsWith(`\r\n\r\n${large}`)).toBe(true);
    expect(after).toMatch(new RegExp(`^GET /after HTTP/1\\.1\\r\\n${added("rec").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    expect(after.endsWith(`host: 127.0.0.1:${bport}\r\n\r\n`)).toBe(true);
  });
});
