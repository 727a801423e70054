// The raw-socket engine's HTTP/1.1 pieces, no sockets: the chunked decoder,
// head parsing (the strictness that keeps requests from being smuggled),
// response framing, and the heads corral writes.
import { describe, expect, test } from "bun:test";
import { ChunkedDecoder, ChunkedError } from "../../plugins/invoke/fast/chunked.ts";
import { clientHead, HttpError, parseRequestHead, parseResponseHead, simpleResponse, upstreamPrefix } from "../../plugins/invoke/fast/http1.ts";

const enc = (s: string) => Buffer.from(s, "latin1");

describe("chunked decoder", () => {
  const body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";

  test("finds the end in one push or byte by byte, and hands out the data", () => {
    const whole = enc(body + "NEXT");
    const d = new ChunkedDecoder();
    const parts: string[] = [];
    expect(d.push(whole, 0, whole.length, (a, b) => parts.push(whole.toString("latin1", a, b)))).toBe(body.length);
    expect(parts.join("")).toBe("hello world");
    expect(d.done).toBe(true);
    const b = enc(body);
    const slow = new ChunkedDecoder();
    let end = -1;
    for (let i = 0; i < b.length && end < 0; i++) end = slow.push(b, i, i + 1);
    expect(end).toBe(b.length);
  });

  test("refuses malformed framing", () => {
    for (const bad of ["x\r\n", "5\nhello\r\n", "5\r\nhelloXX", "1234567890abcdef0\r\n", "5\r\nhello\r\n0\r\n\n", "0\r\nbad\nline\r\n\r\n"]) {
      const b = enc(bad);
      expect(() => new ChunkedDecoder().push(b, 0, b.length), JSON.stringify(bad)).toThrow(ChunkedError);
    }
  });
});

describe("request heads", () => {
  const status = (text: string) => {
    try {
      parseRequestHead(text);
      return 0;
    } catch (err) {
      return (err as HttpError).status;
    }
  };

  test("framing, keep-alive, upgrade and the control fields", () => {
    const h = parseRequestHead("POST /x?y HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nX-Corral-Timeout: 2s\r\nX-Consul-Token: t\r\ntraceparent: 00-a");
    expect([h.method, h.target, h.host, h.chunked, h.contentLength, h.keepAlive]).toEqual(["POST", "/x?y", "web", true, -1, true]);
    expect([h.timeout, h.traceparent]).toEqual(["2s", "00-a"]);
    expect(parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\nConnection: close").keepAlive).toBe(false);
    expect(parseRequestHead("GET / HTTP/1.0").keepAlive).toBe(false);
    expect(parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket").upgrade).toBe("websocket");
    expect(parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket").upgrade).toBeNull(); // not named in Connection
    // The upgrade is passed on (the rest of Connection's fields stay hop-by-hop).
    const up = parseRequestHead("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k");
    expect(upstreamPrefix(up, "/ws", { ip: "", traceparent: "t" })).toBe(
      "GET /ws HTTP/1.1\r\nSec-WebSocket-Key: k\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\nconnection: upgrade\r\nupgrade: websocket\r\ntraceparent: t\r\n",
    );
    expect(parseRequestHead("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5").contentLength).toBe(5);
  });

  test("ambiguous or malformed heads are refused", () => {
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked")).toBe(400);
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4")).toBe(400);
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1")).toBe(400);
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked")).toBe(501);
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked")).toBe(501);
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n continued")).toBe(400); // obs-fold
    expect(status("GET / HTTP/1.1\r\nHost : a")).toBe(400);
    expect(status("GET / HTTP/1.1\r\nHost: a\nX: y")).toBe(400); // bare LF
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b")).toBe(400);
    expect(status("GET / HTTP/1.1")).toBe(400); // no Host
    expect(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b")).toBe(400);
    expect(status("GET /a b HTTP/1.1\r\nHost: a")).toBe(400);
    expect(status("GET / HTTP/2.0\r\nHost: a")).toBe(400);
    expect(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked")).toBe(400);
  });

  test("the upstream head: hop-by-hop and control fields go, the rest stay byte for byte, forwarding fields are added", () => {
    const h = parseRequestHead(
      "GET /a HTTP/1.1\r\nHost: web\r\nUser-Agent: Curl/8\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\n" +
        "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Corral-Timeout: 1s\r\nX-Consul-Token: secret\r\ntraceparent: old\r\nContent-Length: 0\r\nAccept: */*",
    );
    expect(upstreamPrefix(h, "/a", { ip: "127.0.0.1", traceparent: "new" })).toBe(
      "GET /a HTTP/1.1\r\nUser-Agent: Curl/8\r\nContent-Length: 0\r\nAccept: */*\r\n" +
        "x-forwarded-for: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: web\r\ntraceparent: new\r\n",
    );
    const kept = parseRequestHead("GET / HTTP/1.1\r\nHost: web\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: edge");
    expect(upstreamPrefix(kept, "/", { ip: "", traceparent: "t" })).toBe("GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: edge\r\ntraceparent: t\r\n");
  });
});

describe("response heads", () => {
  test("framing by RFC 9112 §6.3", () => {
    const f = (text: string, method = "GET") => parseResponseHead(text, method).framing;
    expect(f("HTTP/1.1 200 OK\r\nContent-Length: 3")).toBe("length");
    expect(f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked")).toBe("chunked");
    expect(f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3")).toBe("chunked");
    expect(f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip")).toBe("close");
    expect(f("HTTP/1.1 200 OK")).toBe("close");
    expect(f("HTTP/1.1 200 OK\r\nContent-Length: 3", "HEAD")).toBe("none");
    for (const s of [100, 204, 304]) expect(f(`HTTP/1.1 ${s} X\r\nContent-Length: 3`)).toBe("none");
    expect(() => parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2", "GET")).toThrow(HttpError);
    expect(() => parseResponseHead("HTTTP/1.1 200 OK", "GET")).toThrow(HttpError);
  });

  test("connection scope: reuse, verbatim heads, and the head the client gets", () => {
    const plain = parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 2", "GET");
    expect([plain.close, plain.verbatim]).toEqual([false, true]);
    const r = parseResponseHead("HTTP/1.0 200 OK\r\nContent-Type: a\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nTransfer-Encoding: chunked", "GET");
    expect([r.close, r.verbatim]).toEqual([false, false]);
    expect(clientHead(r, false, false)).toBe("HTTP/1.1 200 OK\r\nContent-Type: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect(clientHead(r, true, true)).toBe("HTTP/1.1 200 OK\r\nContent-Type: a\r\nconnection: close\r\n\r\n");
    expect(parseResponseHead("HTTP/1.1 200 OK\r\nConnection: close", "GET").close).toBe(true);
    expect(parseResponseHead("HTTP/1.0 200 OK", "GET").close).toBe(true);
  });

  test("corral's own answers carry a UTF-8 length", () => {
    expect(simpleResponse(404, '{"error":"é"}', true)).toBe('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 14\r\nconnection: close\r\n\r\n{"error":"é"}');
  });
});
