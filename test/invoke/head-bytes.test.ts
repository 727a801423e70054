// The upstream head written as bytes (fast/head-bytes.ts) against the
// string form it replaces on the raw-socket listener's path: the same bytes
// for every kind of head; the reused buffer's growth and shrinking; the
// outbox's copy of what a socket could not take from a buffer that is then
// reused; traceparents written from the hex pool.
import { describe, expect, test } from "bun:test";
import { HeadBytes } from "../../plugins/invoke/fast/head-bytes.ts";
import { upstreamPrefix, writeUpstreamPrefix } from "../../plugins/invoke/fast/http1.ts";
import { Outbox } from "../../plugins/invoke/fast/outbox.ts";
import { readRequestHead } from "../../plugins/invoke/fast/scan.ts";
import { isValidTraceparent, TraceIds } from "../../plugins/invoke/trace.ts";

const HEADS = [
  "GET / HTTP/1.1\r\nHost: web",
  "GET /a?b=1 HTTP/1.1\r\nHost: web\r\nUser-Agent: wrk\r\nAccept: */*",
  "POST /up HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2",
  "GET / HTTP/1.1\r\nHost: web\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: edge\r\nTraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  "GET / HTTP/1.1\r\nHost: web\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Stay: 2\r\nTE: trailers",
  "GET /ws HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k",
  "GET / HTTP/1.0\r\nHost: web\r\nX-Old: 1",
  "GET / HTTP/1.0",
  "GET / HTTP/1.1\r\nHost: web\r\nAuthorization: Bearer corral.abc\r\nX-Corral-Token: t\r\nX-Consul-Token: c\r\nX-Corral-Timeout: 2s",
  "GET / HTTP/1.1\r\nHost: web\r\nAuthorization: Basic dXNlcjpwdw==",
  "GET / HTTP/1.1\r\nHost: web\r\nX-Forwarded-Client-Cert: URI=spiffe://x\r\nX-Corral-Mesh-Service: db\r\nx-corral-mesh-instance: i",
  "GET /caf\u00e9 HTTP/1.1\r\nHost: web\r\nX-Latin: \u00e9t\u00e9 \u00ff\r\nX-Empty:",
  "GET http://web/abs?x=1 HTTP/1.1\r\nHost: other",
  "POST /c HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue",
];

/** The head read from its bytes, as the listener reads it. */
function read(text: string) {
  const buf = Buffer.from(`${text}\r\n\r\n`, "latin1");
  return { buf, head: readRequestHead(buf, text.length) };
}

describe("the upstream head as bytes", () => {
  test("is byte for byte the string form, for every kind of head, target and forwarding", () => {
    let checked = 0;
    for (const text of HEADS) {
      const { buf, head } = read(text);
      for (const target of [head.target, "/other", "/x?token=secret&a=1"]) {
        for (const fwd of [{ ip: "127.0.0.1", mesh: false }, { ip: "", mesh: true }]) {
          const out = new HeadBytes();
          out.src = buf;
          writeUpstreamPrefix(head, target, fwd, out);
          const want = upstreamPrefix(head, target, { ...fwd, traceparent: "T" });
          expect(`${out.buf.toString("latin1", 0, out.len)}traceparent: T\r\n`, JSON.stringify([text, target, fwd])).toBe(want);
          checked++;
        }
      }
    }
    expect(checked).toBe(HEADS.length * 6);
  });

  test("the buffer grows for a large head, keeps what was written, and goes back to its small size after one over 16 KB", () => {
    const out = new HeadBytes();
    const big = "v".repeat(40_000);
    out.text("GET / HTTP/1.1\r\n");
    out.text(`x-big: ${big}\r\n`);
    out.bytes(Buffer.from("\r\n"));
    expect(out.buf.toString("latin1", 0, out.len)).toBe(`GET / HTTP/1.1\r\nx-big: ${big}\r\n\r\n`);
    expect(out.buf.byteLength).toBeGreaterThanOrEqual(out.len);
    out.clear();
    expect(out.len).toBe(0);
    expect(out.buf.byteLength).toBeLessThanOrEqual(16 * 1024);
    out.utf8("x-id: \u00e9\u4e2d\r\n"); // catalog text: UTF-8
    expect(out.buf.subarray(0, out.len)).toEqual(Buffer.from("x-id: \u00e9\u4e2d\r\n", "utf8"));
  });
});

describe("writing a reused buffer", () => {
  test("what the socket does not take at once is copied: reusing the buffer does not change what is sent later", () => {
    const sent: Buffer[] = [];
    let room = 3;
    let blocked = 0;
    const sock = {
      write(d: Uint8Array | string, o = 0, l?: number) {
        const bytes = typeof d === "string" ? Buffer.from(d, "latin1") : Buffer.from(d.subarray(o, l === undefined ? undefined : o + l));
        const n = Math.min(room, bytes.length);
        room -= n;
        sent.push(bytes.subarray(0, n));
        return n;
      },
    };
    const box = new Outbox(sock, () => blocked++, () => {});
    const buf = Buffer.from("HELLO WORLD");
    expect(box.writeReused(buf, 5)).toBe(false); // "HEL" now, "LO" waits
    expect(blocked).toBe(1);
    expect(box.writeReused(buf, 11)).toBe(false); // queued behind: a copy too
    buf.fill("x"); // the owner reuses its buffer
    room = 1000;
    box.drain();
    expect(Buffer.concat(sent).toString()).toBe("HELLOHELLO WORLD");
    expect(box.writeReused(buf, 2)).toBe(true);
  });
});

describe("traceparents written as bytes", () => {
  test("a new trace: the same form as next(), ids never all zeros, a new one each time", () => {
    let fills = 0;
    // The first pool is all zeros: every id cut from it is skipped.
    const ids = new TraceIds((b) => void (fills++ === 0 ? b.fill(0) : crypto.getRandomValues(b)));
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const out = new HeadBytes();
      ids.writeNext(null, out);
      const tp = out.buf.toString("latin1", 0, out.len);
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(isValidTraceparent(tp)).toBe(true);
      seen.add(tp);
    }
    expect(seen.size).toBe(500);
    expect(fills).toBeGreaterThan(1);
  });

  test("an incoming trace is kept (its id and flags), a new span id is written", () => {
    const out = new HeadBytes();
    new TraceIds().writeNext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", out);
    const tp = out.buf.toString("latin1", 0, out.len);
    expect(tp).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(tp.slice(36, 52)).not.toBe("b7ad6b7169203331");
  });
});
