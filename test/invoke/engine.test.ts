// The raw-socket listener end to end at the byte level: a raw TCP client
// against the plugin (in process, real plugin host) in front of a raw TCP
// instance that answers exactly what each case needs. Keep-alive and
// upstream reuse, pipelining, HTTP/1.0 clients (dechunked), chunked uploads,
// 100-continue, close-delimited answers, HEAD, bad requests, upgrades, and a
// stale pooled connection.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { ChunkedDecoder } from "../../plugins/invoke/fast/chunked.ts";
import { createInvokePlugin } from "../../plugins/invoke/index.ts";
import { freePort } from "../helpers/proc.ts";
import { testPluginHost } from "../helpers/plugin-host.ts";
import { fixedInstances } from "./helpers.ts";

/** A raw HTTP/1.1 instance: answers by path; counts connections; records what it received. */
function rawBackend() {
  const received: string[] = [];
  let connections = 0;
  let streamsClosed = 0;
  const answer = (sock: net.Socket, head: string, body: string) => {
    received.push(head + "\r\n\r\n" + body);
    const path = head.split(" ")[1]!;
    if (path === "/cl") sock.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    else if (path === "/chunked") sock.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    else if (path === "/stream") {
      sock.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
      const t = setInterval(() => sock.write("c\r\ndata: tick\n\n\r\n"), 20);
      sock.on("close", () => {
        clearInterval(t);
        streamsClosed++;
      });
    } else if (path === "/until-close") sock.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it");
    else if (path === "/conn-close") sock.end("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye");
    else if (path === "/head") sock.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    else if (path === "/echo") sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n${body}`);
    else if (path === "/stale") {
      sock.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      setTimeout(() => sock.destroy(), 30); // drops the idle keep-alive connection under the pool
    } else sock.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  };
  const server = net.createServer((sock) => {
    connections++;
    let buf = Buffer.alloc(0);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.toString("latin1", 0, end);
        if (/\r\nexpect: 100-continue/i.test(head) && !(sock as { continued?: boolean }).continued) {
          (sock as { continued?: boolean }).continued = true;
          sock.write("HTTP/1.1 100 Continue\r\n\r\n");
        }
        let bodyEnd = end + 4;
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (cl) bodyEnd += Number(cl[1]);
        else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const at = new ChunkedDecoder().push(buf, end + 4, buf.length);
          if (at < 0) return;
          bodyEnd = at;
        }
        if (buf.length < bodyEnd) return;
        const body = buf.toString("latin1", end + 4, bodyEnd);
        buf = buf.subarray(bodyEnd);
        (sock as { continued?: boolean }).continued = false;
        answer(sock, head, body);
      }
    });
    sock.on("error", () => {});
  });
  return { server, received, connections: () => connections, streamsClosed: () => streamsClosed };
}

/** Sends raw bytes on one connection and collects everything until `done(text)` or the connection closes. */
function rawClient(port: number) {
  const sock = net.connect(port, "127.0.0.1");
  let data = "";
  let closed = false;
  const waiters: (() => void)[] = [];
  sock.on("data", (d) => {
    data += d.toString("latin1");
    waiters.splice(0).forEach((w) => w());
  });
  sock.on("close", () => {
    closed = true;
    waiters.splice(0).forEach((w) => w());
  });
  sock.on("error", () => {});
  return {
    send: (s: string) => sock.write(Buffer.from(s, "latin1")),
    async until(pred: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!pred(data)) {
        if (closed || Date.now() > deadline) throw new Error(`no match (closed=${closed}): ${JSON.stringify(data)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return data;
    },
    closed: () => closed,
    end: () => sock.destroy(),
  };
}

const count = (s: string, what: string) => s.split(what).length - 1;
const backend = rawBackend();
let port = 0;
const { host } = testPluginHost(() => ({ invoke: { port, engine: "sockets", retry_buffer_bytes: "16", max_request_bytes: "100" } }));

beforeAll(async () => {
  await new Promise<void>((r) => backend.server.listen(0, "127.0.0.1", () => r()));
  const bport = (backend.server.address() as net.AddressInfo).port;
  host.registerBuiltin(createInvokePlugin({ source: fixedInstances({ b: bport }) }));
  port = await freePort();
  expect((await host.enable("invoke")).state).toBe("enabled");
});

afterAll(async () => {
  await host.stopAll();
  backend.server.close();
});

describe("raw-socket engine", () => {
  test("keep-alive: several calls on one client connection share one upstream connection; pipelined ones answer in order", async () => {
    const before = backend.connections();
    const c = rawClient(port);
    c.send("GET /cl HTTP/1.1\r\nHost: svc\r\n\r\n");
    await c.until((t) => t.endsWith("hello"));
    c.send("GET /chunked HTTP/1.1\r\nHost: svc\r\n\r\nGET /cl HTTP/1.1\r\nHost: svc\r\n\r\n");
    const text = await c.until((t) => count(t, "HTTP/1.1 200") === 3 && t.endsWith("hello"));
    expect(text.indexOf("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")).toBeLessThan(text.lastIndexOf("hello"));
    expect(backend.connections() - before).toBe(1);
    expect(c.closed()).toBe(false);
    c.end();
  });

  test("the instance's connection-scoped fields stay between it and corral", async () => {
    const c = rawClient(port);
    c.send("POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 4\r\n\r\nping");
    const text = await c.until((t) => t.endsWith("ping"));
    expect(text).not.toMatch(/keep-alive/i);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    c.end();
  });

  test("a small body that arrives after its head is waited for, then sent with it", async () => {
    const c = rawClient(port);
    c.send("POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 4\r\n\r\n");
    await Bun.sleep(50);
    c.send("pi");
    await Bun.sleep(20);
    c.send("ng");
    const text = await c.until((t) => t.endsWith("ping"));
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(backend.received.some((r) => r.endsWith("\r\n\r\nping") && /\r\ncontent-length: 4\r\n/i.test(r))).toBe(true);
    c.end();
  });

  test("an HTTP/1.0 client gets a chunked answer dechunked, then the connection closes", async () => {
    const c = rawClient(port);
    c.send("GET /chunked HTTP/1.0\r\nHost: svc\r\n\r\n");
    await c.until(() => c.closed());
    const text = await c.until(() => true);
    expect(text).toMatch(/\r\n\r\nhello world$/);
    expect(text).not.toMatch(/transfer-encoding/i);
    expect(text).toMatch(/connection: close/i);
  });

  test("a chunked upload larger than the retry buffer streams through, framing intact, and the connection carries on", async () => {
    const c = rawClient(port);
    c.send("POST /echo HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n");
    await Bun.sleep(50);
    c.send("4\r\nWXYZ\r\n0\r\n\r\nGET /cl HTTP/1.1\r\nHost: svc\r\n\r\n");
    const text = await c.until((t) => t.endsWith("hello"));
    // The instance echoes the body it received: the chunked framing passed through byte for byte.
    expect(text).toContain("10\r\n0123456789abcdef\r\n4\r\nWXYZ\r\n0\r\n\r\n");
    expect(backend.received.some((r) => /\r\ntransfer-encoding: chunked\r\n/i.test(r) && r.endsWith("WXYZ\r\n0\r\n\r\n"))).toBe(true);
    c.end();
  });

  test("a body over max_request_bytes: 413 up front from Content-Length, or mid-stream — one answer, then the connection closes", async () => {
    const a = rawClient(port);
    a.send("POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 101\r\n\r\n");
    await a.until(() => a.closed());
    expect(await a.until(() => true)).toMatch(/^HTTP\/1\.1 413 [^]*"code":"BODY_TOO_LARGE"/);
    // Chunked: the call is under way (the instance waits for the body's end) when the limit is crossed.
    const b = rawClient(port);
    b.send(`POST /echo HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n${"a".repeat(60)}\r\n`);
    await Bun.sleep(50);
    b.send(`3c\r\n${"b".repeat(60)}\r\n`);
    await b.until(() => b.closed());
    const text = await b.until(() => true);
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(count(text, "HTTP/1.1")).toBe(1);
  });

  test("Expect: 100-continue: the interim answer reaches the client before the body is sent", async () => {
    const c = rawClient(port);
    c.send("PUT /echo HTTP/1.1\r\nHost: svc\r\nExpect: 100-continue\r\nContent-Length: 40\r\n\r\n");
    await c.until((t) => t.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
    c.send("x".repeat(40));
    await c.until((t) => t.endsWith("x".repeat(40)));
    c.end();
  });

  test("a close-delimited answer ends the client connection after the body", async () => {
    const c = rawClient(port);
    c.send("GET /until-close HTTP/1.1\r\nHost: svc\r\n\r\n");
    await c.until(() => c.closed());
    const text = await c.until(() => true);
    expect(text).toMatch(/all of it$/);
    expect(text).toMatch(/connection: close/i);
  });

  test("Connection: close from the instance ends that upstream connection only", async () => {
    const c = rawClient(port);
    c.send("GET /conn-close HTTP/1.1\r\nHost: svc\r\n\r\n");
    const text = await c.until((t) => t.endsWith("bye"));
    expect(text).not.toMatch(/connection:/i);
    const before = backend.connections();
    c.send("GET /cl HTTP/1.1\r\nHost: svc\r\n\r\n");
    await c.until((t) => t.endsWith("hello"));
    expect(c.closed()).toBe(false);
    expect(backend.connections()).toBeGreaterThanOrEqual(before); // a pooled or a fresh one, never the closed one
    c.end();
  });

  test("HEAD: no body is waited for, and the connection stays usable", async () => {
    const c = rawClient(port);
    c.send("HEAD /head HTTP/1.1\r\nHost: svc\r\n\r\nGET /cl HTTP/1.1\r\nHost: svc\r\n\r\n");
    const text = await c.until((t) => t.endsWith("hello"));
    expect(text).toContain("Content-Length: 1000\r\n\r\nHTTP/1.1 200 OK");
    c.end();
  });

  test("bad requests get 400 and a closed connection; an upgrade with a body 501; a huge head 431", async () => {
    const cases: [string, string][] = [
      ["GET / HTTP/1.1\r\nHost: svc\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx", "400"],
      ["GET / HTTP/1.1\r\nHost: svc\r\n folded\r\n\r\n", "400"],
      ["GET / HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 1\r\n\r\nx", "501"],
      [`GET / HTTP/1.1\r\nHost: svc\r\nX: ${"a".repeat(70 * 1024)}\r\n\r\n`, "431"],
    ];
    for (const [req, code] of cases) {
      const c = rawClient(port);
      c.send(req);
      await c.until(() => c.closed(), 5000);
      expect((await c.until(() => true)).startsWith(`HTTP/1.1 ${code} `)).toBe(true);
    }
  });

  test("a client leaving an endless stream releases the instance's connection", async () => {
    const c = rawClient(port);
    c.send("GET /stream HTTP/1.1\r\nHost: svc\r\n\r\n");
    await c.until((t) => count(t, "data: tick") >= 3);
    const before = backend.streamsClosed();
    c.end();
    const deadline = Date.now() + 3000;
    while (backend.streamsClosed() === before && Date.now() < deadline) await Bun.sleep(20);
    expect(backend.streamsClosed()).toBe(before + 1);
  });

  test("a pooled connection the instance dropped is replaced without the client noticing", async () => {
    const c = rawClient(port);
    c.send("GET /stale HTTP/1.1\r\nHost: svc\r\n\r\n");
    await c.until((t) => t.endsWith("ok"));
    await Bun.sleep(100); // the instance closed that connection meanwhile
    c.send("POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\n\r\nabc");
    await c.until((t) => t.endsWith("abc"));
    c.end();
  });
});
