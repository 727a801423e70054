// The byte scanners (fast/scan.ts) against the parsers they stand in for
// (fast/http1.ts): over a corpus of heads — common ones, every field corral
// picks, and thousands of seeded mutations (control bytes, bare CR/LF,
// obs-text, folded lines, spaces before colons, case changes) — reading a
// head with the scanner first must give exactly the parser's result or its
// error. And the scanner must really take the common heads (else the fast
// path would silently be the slow one).
import { describe, expect, test } from "bun:test";
import { HttpError, parseRequestHead, parseResponseHead, REQUEST_FIELD_NAMES, RESPONSE_FIELD_NAMES } from "../../plugins/invoke/fast/http1.ts";
import { readRequestHead, readResponseHead, scanners } from "../../plugins/invoke/fast/scan.ts";
import { mulberry32, type Rng } from "../sim/prng.ts";

const REQUESTS = [
  "GET / HTTP/1.1\r\nHost: bench",
  "GET /a?b=c HTTP/1.1\r\nHost: web.service.corral\r\nUser-Agent: curl/8.5\r\nAccept: */*",
  "POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 4\r\nContent-Type: text/plain",
  "PUT /x HTTP/1.1\r\nhost: a\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\ncontent-length: 2, 2",
  "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k",
  "GET http://svc/x HTTP/1.1\r\nHost: svc\r\nProxy-Connection: keep-alive",
  "GET / HTTP/1.0\r\nUser-Agent: old",
  "DELETE /k HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nTrailer: x\r\nTransfer-Encoding: chunked",
  "GET / HTTP/1.1\r\nHost: a\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: example",
  "GET / HTTP/1.1\r\nHost: a\r\nX-Corral-Timeout: 2s\r\nX-Corral-Try-Timeout: 500ms\r\nX-Corral-Token: t1\r\nX-Consul-Token: t2",
  "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9 \xa0\r\nX-Empty:\r\nX-Tab:\tv\t",
  "GET / HTTP/1.1\r\nHost:  spaced  \r\nContent-Length:  7 ",
  "GET / HTTP/1.1\r\nHost: a\r\nHost: b",
  "GET / HTTP/1.1",
  // Unicode whitespace is not OWS (RFC 9110 §5.6.3): JavaScript's trim() would strip NBSP (0xA0 as latin1).
  "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: \xa05",
  "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\xa0",
  "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\xa0",
  "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \xa0chunked",
  "GET / HTTP/1.1\r\nHost: web\xa0\r\nConnection: close\xa0",
  "GET / HTTP/1.1\r\nHost: a\r\nConnection: \x85close\r\nContent-Length: 1,\xa01",
  "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 11111111-2222-4333-8444-555555555555\r\nX-Other: \xa0x\xa0",
];

const RESPONSES = [
  "HTTP/1.1 200 OK\r\nx-backend: b0\r\ncontent-type: text/plain;charset=utf-8\r\nDate: Fri, 27 Nov 2026 11:00:00 GMT\r\nContent-Length: 2",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
  "HTTP/1.1 204 No Content",
  "HTTP/1.1 304",
  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket",
  "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 3",
  "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nProxy-Connection: x",
  "HTTP/1.1 100 Continue",
  "HTTP/1.1 502 \r\ncontent-length: 0",
  "HTTP/1.1 200 R\xe9ason\r\nContent-Length: 1, 1\r\nX-Obs: \xff",
];

// Bytes that break heads in interesting ways, and pieces of the names the scanners must pick.
const NASTY = ["\r", "\n", "\r\n", "\t", " ", ":", "\x00", "\x01", "\x0b", "\x1c", "\x1f", "\x7f", "\x85", "\xa0", "\xa0\xa0", "\xc2\xa0", "\xff", "a", "A", "-", "0", ",", "(", " HTTP/1.1"];
const NAMES = [...REQUEST_FIELD_NAMES, ...RESPONSE_FIELD_NAMES, "x-other", "TE", "Host", "HOST", "te "];

function mutate(text: string, rng: Rng): string {
  let s = text;
  for (let k = rng.int(1, 3); k > 0; k--) {
    const at = rng.int(0, s.length);
    switch (rng.int(0, 4)) {
      case 0: // insert a nasty byte
        s = s.slice(0, at) + rng.pick(NASTY) + s.slice(at);
        break;
      case 1: // delete a few
        s = s.slice(0, at) + s.slice(at + rng.int(1, 3));
        break;
      case 2: // a new field line, maybe one corral picks
        s = s.slice(0, at) + `\r\n${rng.pick(NAMES)}${rng.chance(0.2) ? " " : ""}:${rng.pick([" 1", " close", "\tchunked ", "", " 00-x"])}` + s.slice(at);
        break;
      case 3: // case change of one character
        s = s.slice(0, at) + (rng.chance(0.5) ? s.charAt(at).toUpperCase() : s.charAt(at).toLowerCase()) + s.slice(at + 1);
        break;
      default: // replace a byte
        s = s.slice(0, at) + rng.pick(NASTY) + s.slice(at + 1);
    }
  }
  return s;
}

/** A head's reading: the result, or the error's status and message. */
function outcome(read: () => unknown): unknown {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { error: err.status, message: err.message };
  }
}

/** The head's bytes as received: the text, then the CRLFCRLF the reader stops at. */
function received(text: string): { buf: Buffer; end: number } | null {
  if (/[^\x00-\xff]/.test(text)) return null; // a case change made a character latin-1 has no byte for ("\xff" -> "\u0178")
  const buf = Buffer.from(text + "\r\n\r\n", "latin1");
  const end = buf.indexOf("\r\n\r\n");
  return end === text.length ? { buf, end } : null; // a mutation that made an earlier CRLFCRLF is a shorter head
}

/** One way of reading a head: the scanner alone, the scanner with the parser behind it, the parser alone. */
interface Readers {
  scan(buf: Buffer, end: number, text: string, method: string): unknown;
  read(buf: Buffer, end: number, method: string): unknown;
  parse(text: string, method: string): unknown;
}

/** Every corpus head and 20,000 seeded mutations of them: read with the scanner first, exactly the parser's result or error. */
function agree(corpus: string[], seed: number, r: Readers): void {
  const rng = mulberry32(seed);
  let scanned = 0;
  let checked = 0;
  const check = (text: string) => {
    const got = received(text);
    if (!got) return;
    checked++;
    const method = rng.chance(0.1) ? "HEAD" : "GET"; // framing differs for HEAD answers
    if (outcome(() => r.scan(got.buf, got.end, text, method)) !== null) scanned++; // taken (an error is an answer too)
    expect(outcome(() => r.read(got.buf, got.end, method)), JSON.stringify(text)).toEqual(outcome(() => r.parse(text, method)));
  };
  for (const t of corpus) check(t);
  for (let i = 0; i < 20_000; i++) check(mutate(rng.pick(corpus), rng));
  expect(checked).toBeGreaterThan(15_000);
  expect(scanned).toBeGreaterThan(checked / 4); // many mutations stay valid, and the scanner takes those
}

describe("head scanners agree with the parsers", () => {
  test("requests: every corpus head and 20,000 mutations", () => {
    agree(REQUESTS, 7, {
      scan: (buf, end, text) => scanners.request(buf, end, text),
      read: (buf, end) => readRequestHead(buf, end),
      parse: (text) => parseRequestHead(text),
    });
  });

  test("responses: every corpus head and 20,000 mutations, to GET and HEAD", () => {
    agree(RESPONSES, 11, { scan: scanners.response, read: readResponseHead, parse: parseResponseHead });
  });

  test("NBSP and other non-OWS bytes around a value are not trimmed: Content-Length and Transfer-Encoding are refused, Host is kept as sent", () => {
    const read = (text: string) => {
      const r = received(text)!;
      return [outcome(() => readRequestHead(r.buf, r.end)), outcome(() => parseRequestHead(text))];
    };
    for (const cl of ["\xa05", "5\xa0", "\x855", "1,\xa01"]) {
      for (const o of read(`POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${cl}`)) expect(o, cl).toEqual({ error: 400, message: "invalid Content-Length" });
    }
    for (const te of ["chunked\xa0", "\xa0chunked"]) {
      for (const o of read(`POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}`)) expect((o as { error: number }).error, te).toBe(501);
    }
    for (const o of read("GET / HTTP/1.1\r\nHost: \xa0web\xa0 ")) expect((o as { host: string }).host).toBe("\xa0web\xa0");
    for (const o of read("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: \t 5 \t")) expect((o as { contentLength: number }).contentLength).toBe(5);
  });

  test("the common heads are taken by the scanners, not left to the parsers", () => {
    for (const text of REQUESTS) {
      const r = received(text)!;
      expect(outcome(() => scanners.request(r.buf, r.end, text)), text).not.toBeNull();
    }
    for (const text of RESPONSES) {
      const r = received(text)!;
      expect(outcome(() => scanners.response(r.buf, r.end, text, "GET")), text).not.toBeNull();
    }
  });
});
