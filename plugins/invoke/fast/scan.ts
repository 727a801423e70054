// The common case of http1.ts's head parsers, on the bytes as received: one
// pass that validates the start line and the field lines and picks the
// fields corral acts on, with no regular expression and no string made for
// a field it does not pick. What the fields mean is decided by the same code
// as for the parsers (requestHead / responseHead in http1.ts).
//
// A scanner accepts only what the parsers accept and picks exactly what
// they pick; on anything else (a malformed line, a byte it does not expect)
// it returns null and the parser decides, with its own error.
// test/invoke/scan.test.ts holds both to the same answers over a generated
// corpus of heads.
import {
  trimOws, parseRequestHead, parseResponseHead, requestHead, responseHead, REQUEST_FIELD_NAMES, RESPONSE_FIELD_NAMES,
  type Picked, type RequestHead, type ResponseHead,
} from "./http1.ts";

function byteSet(ranges: [number, number][], except: number[] = []): Uint8Array {
  const t = new Uint8Array(256);
  for (const [a, b] of ranges) t.fill(1, a, b + 1);
  for (const c of except) t[c] = 0;
  return t;
}

const code = (c: string) => c.charCodeAt(0);
/** tchar (RFC 9110 §5.6.2): what a method or a field name is made of. */
const TOKEN = byteSet([[code("0"), code("9")], [code("A"), code("Z")], [code("a"), code("z")]]);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[code(c)] = 1;
/** A field value or reason phrase: HTAB, visible ASCII and space, obs-text. */
const TEXT = byteSet([[0x09, 0x09], [0x20, 0x7e], [0x80, 0xff]]);
/** A request target: no whitespace (as JavaScript's \s has it: NBSP too), no control character. */
const TARGET = byteSet([[0x21, 0x7e], [0x80, 0xff]], [0xa0]);
const CR = 13;
const LF = 10;
const SP = 32;

/** Field names by length, for a byte comparison without making a string per field. */
function byLength(names: string[]): string[][] {
  const t: string[][] = [];
  for (const n of names) (t[n.length] ??= []).push(n);
  return t;
}
const REQUEST_NAMES = byLength(REQUEST_FIELD_NAMES);
const RESPONSE_NAMES = byLength(RESPONSE_FIELD_NAMES);

/** The lower-case name in `names` that b[at, at+len) spells in any case, or null. */
function nameAt(b: Uint8Array, at: number, len: number, names: string[][]): string | null {
  const list = names[len];
  if (!list) return null;
  next: for (const n of list) {
    // Token bytes: `| 0x20` lower-cases letters and maps no other token byte onto a letter or "-".
    for (let k = 0; k < len; k++) if ((b[at + k]! | 0x20) !== n.charCodeAt(k)) continue next;
    return n;
  }
  return null;
}

/** "HTTP/1." at b[i]: the minor version digit after it (0 or 1), else -1. */
function httpVersion(b: Uint8Array, i: number, end: number): number {
  if (i + 8 > end || b[i] !== 72 || b[i + 1] !== 84 || b[i + 2] !== 84 || b[i + 3] !== 80 || b[i + 4] !== 47 || b[i + 5] !== 49 || b[i + 6] !== 46) return -1;
  const v = b[i + 7]! - 48;
  return v === 0 || v === 1 ? v : -1;
}

/** Set by fields() and scanRequest(): a byte >= 0x80 (obs-text) was seen. Read right after the scan (synchronous). */
let sawHigh = false;

/**
 * The field lines from b[at] (the CR ending the start line) to `end`:
 * each "name: value" with a token name and a value of TEXT bytes. The fields
 * named in `names`, as http1.ts's pick() gives them; null when a line is
 * malformed.
 */
function fields(b: Uint8Array, at: number, end: number, text: string, names: string[][]): Picked[] | null {
  const out: Picked[] = [];
  let i = at;
  while (i < end) {
    if (b[i + 1] !== LF) return null; // b[i] is CR; a lone CR is malformed
    const start = i;
    i += 2;
    const nameStart = i;
    while (i < end && TOKEN[b[i]!]) i++;
    if (i === nameStart || i >= end || b[i] !== 58) return null; // ":" right after a non-empty token
    const name = nameAt(b, nameStart, i - nameStart, names);
    const colon = i++;
    while (i < end && b[i] !== CR) {
      const c = b[i]!;
      if (!TEXT[c]) return null;
      if (c >= 0x80) sawHigh = true;
      i++;
    }
    if (name !== null) out.push({ name, value: trimOws(text.slice(colon + 1, i)), start, end: i });
  }
  return out;
}

function scanRequest(b: Uint8Array, end: number, text: string): RequestHead | null {
  let i = 0;
  while (i < end && TOKEN[b[i]!]) i++;
  if (i === 0 || i >= end || b[i] !== SP) return null;
  const methodEnd = i++;
  const targetStart = i;
  sawHigh = false;
  while (i < end && TARGET[b[i]!]) {
    if (b[i]! >= 0x80) sawHigh = true;
    i++;
  }
  if (i === targetStart || i >= end || b[i] !== SP) return null;
  const targetEnd = i++;
  const minor = httpVersion(b, i, end);
  i += 8;
  if (minor < 0 || (i < end && b[i] !== CR)) return null;
  const picked = fields(b, i, end, text, REQUEST_NAMES);
  if (!picked) return null;
  return requestHead(text, text.slice(0, methodEnd), text.slice(targetStart, targetEnd), minor === 0, picked, i, !sawHigh);
}

function scanResponse(b: Uint8Array, end: number, text: string, method: string): ResponseHead | null {
  const minor = httpVersion(b, 0, end);
  if (minor < 0 || end < 12 || b[8] !== SP) return null;
  let status = 0;
  for (let k = 9; k < 12; k++) {
    const d = b[k]! - 48;
    if (d < 0 || d > 9) return null;
    status = status * 10 + d;
  }
  let i = 12;
  if (i < end && b[i] !== CR) {
    if (b[i] !== SP) return null;
    for (i++; i < end && b[i] !== CR; i++) if (!TEXT[b[i]!]) return null;
  }
  const picked = fields(b, i, end, text, RESPONSE_NAMES);
  if (!picked) return null;
  return responseHead(text, method, minor === 0, status, picked, i);
}

/** The request head in buf[0, end) (end: where its CRLFCRLF starts). Throws HttpError as parseRequestHead does. */
export function readRequestHead(buf: Buffer, end: number): RequestHead {
  const text = buf.toString("latin1", 0, end);
  return scanRequest(buf, end, text) ?? parseRequestHead(text);
}

/** The response head in buf[0, end), answering `method`. Throws HttpError as parseResponseHead does. */
export function readResponseHead(buf: Buffer, end: number, method: string): ResponseHead {
  const text = buf.toString("latin1", 0, end);
  return scanResponse(buf, end, text, method) ?? parseResponseHead(text, method);
}

/** For tests: the scanners alone (null where they leave the head to the parsers). */
export const scanners = { request: scanRequest, response: scanResponse };
