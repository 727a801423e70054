// HTTP/1.1 message heads (RFC 9112) for the raw-socket proxy: parse the
// client's request head and the instance's response head, decide how each
// body is framed, and write the heads that go on.
//
// Strict where leniency lets requests be smuggled past a proxy: CRLF only,
// no obs-fold, no space before the colon, no control characters, CL and TE
// together refused, conflicting Content-Lengths refused, only "chunked" as a
// request transfer coding.
//
// These parsers are the reference: the head is checked with two whole-text
// regexes, then one scan picks out only the fields corral acts on; every
// other field is passed on as the bytes it arrived as. A head is rewritten
// by cutting those fields' segments out of the text. Per request, common
// heads are read by scan.ts instead (the same checks, on bytes, no regex),
// which leaves every other head to these and shares the code that decides
// what the picked fields mean (requestHead, responseHead).

import { isCorralBearer, withoutTokenParam } from "../credentials.ts";

/** A head (request line or status line plus fields) larger than this is refused (431 / 502). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** What ends a head. */
export const HEAD_END = Buffer.from("\r\n\r\n");

const BAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const BAD_FIELD_LINE = /\r\n(?![!#$%&'*+\-.^_`|~0-9A-Za-z]+:)/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\s\x00-\x1f\x7f]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;
/** The fields a request's handling depends on or replaces, lower case (the rest pass untouched). */
export const REQUEST_FIELD_NAMES = [
  "host", "content-length", "transfer-encoding", "connection", "upgrade", "keep-alive", "proxy-connection", "te", "trailer", "traceparent",
  "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-corral-timeout", "x-corral-try-timeout", "x-corral-token", "x-consul-token",
  "authorization",
  // The mesh's own (mesh-upstream.ts, mesh-server.ts): a caller's are dropped when the call crosses the mesh.
  "x-forwarded-client-cert", "x-corral-mesh-service", "x-corral-mesh-instance",
];
/** Fields that pass untouched outside the mesh and are dropped when the call crosses it (a caller must not name its own identity). */
const MESH_FIELDS = new Set(["x-forwarded-client-cert", "x-corral-mesh-service", "x-corral-mesh-instance"]);
/** The fields of an answer corral acts on. */
export const RESPONSE_FIELD_NAMES = ["content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection"];
/** "\r\n<name>: <value>" for any of `names`, case-insensitive. */
const fieldsRegex = (names: string[]) => new RegExp(`\\r\\n(${names.join("|")})[ \\t]*:[ \\t]*([^\\r]*)`, "gi");
const REQUEST_FIELDS = fieldsRegex(REQUEST_FIELD_NAMES);
const RESPONSE_FIELDS = fieldsRegex(RESPONSE_FIELD_NAMES);

/**
 * A field value without its surrounding OWS (RFC 9110 §5.6.3: SP and HTAB
 * only). JavaScript's trim() also strips NBSP (0xA0 read as latin1) and
 * other Unicode spaces, so "Content-Length: \u00a05" would have passed as 5
 * while a backend or another proxy reads the field differently: a smuggling
 * gap. Anything else left in the value makes the field invalid.
 */
export function trimOws(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === 32 || v.charCodeAt(a) === 9)) a++;
  while (b > a && (v.charCodeAt(b - 1) === 32 || v.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One field picked out of a head: lower-case name, trimmed value, and where its "\r\nname: value" segment lies. */
export interface Picked {
  name: string;
  value: string;
  start: number;
  end: number;
}

/** Validates `text` and picks the fields `re` names, in order. */
function pick(text: string, re: RegExp, status: number): Picked[] {
  if (BAD_CHAR.test(text)) throw new HttpError(status, "control character or bare CR/LF in the head");
  if (BAD_FIELD_LINE.test(text)) throw new HttpError(status, "malformed header field");
  const out: Picked[] = [];
  // Every match starts at a line start ("\r\n" then the name), so one global scan finds them all.
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ name: m[1]!.toLowerCase(), value: trimOws(m[2]!), start: m.index, end: m.index + m[0].length });
  return out;
}

/** Content-Length values (a list, or repeated) must agree (RFC 9112 §6.3 item 5). Returns the length so far. */
function addContentLength(value: string, n: number, status: number): number {
  // The common case, one plain number: read in place (no split, no regex, no string per part).
  const len = value.length;
  if (len > 0 && len <= 15) {
    let x = 0;
    let k = 0;
    for (; k < len; k++) {
      const d = value.charCodeAt(k) - 48;
      if (d < 0 || d > 9) break;
      x = x * 10 + d;
    }
    if (k === len) {
      if (n !== -1 && x !== n) throw new HttpError(status, "conflicting Content-Length values");
      return x;
    }
  }
  for (const t of value.split(",")) {
    const v = trimOws(t);
    if (!/^\d{1,15}$/.test(v)) throw new HttpError(status, "invalid Content-Length");
    const x = Number(v);
    if (n !== -1 && x !== n) throw new HttpError(status, "conflicting Content-Length values");
    n = x;
  }
  return n;
}

/** Shared by every head without Connection (or Transfer-Encoding) tokens: most heads, so no array is made for them. */
const NO_TOKENS: string[] = Object.freeze([]) as unknown as string[];

/** Connection or Transfer-Encoding tokens, lower-cased ("close", "upgrade", "chunked"...), added to `into` (a new array when it is NO_TOKENS). */
function listTokens(value: string, into: string[]): string[] {
  for (const t of value.split(",")) {
    const v = trimOws(t);
    if (!v) continue;
    if (into === NO_TOKENS) into = [];
    into.push(v.toLowerCase());
  }
  return into;
}

/** Fields named in Connection (beyond the ones corral handles) are hop-by-hop too: their segments. */
function connectionNamed(text: string, connection: string[], known: RegExp): Picked[] {
  const extra = connection.filter((t) => !known.test(t) && /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(t));
  if (!extra.length) return [];
  const re = new RegExp(`\\r\\n(${extra.map((t) => t.replace(/[.*+^$|\\]/g, "\\$&")).join("|")})[ \\t]*:[^\\r]*`, "gi");
  return [...text.matchAll(re)].map((m) => ({ name: m[1]!.toLowerCase(), value: "", start: m.index!, end: m.index! + m[0].length }));
}

/** Adds segments not already in `drop`, keeping it sorted by position. */
function addNamed(drop: Picked[], named: Picked[]): void {
  if (!named.length) return;
  for (const n of named) if (!drop.some((d) => d.start === n.start)) drop.push(n);
  drop.sort((a, b) => a.start - b.start);
}

/** `text` without the given segments (sorted by start). */
function cut(text: string, from: number, segments: Picked[]): string {
  let out = "";
  let at = from;
  for (const s of segments) {
    out += text.slice(at, s.start);
    at = s.end;
  }
  return out + text.slice(at);
}

export interface RequestHead {
  method: string;
  target: string;
  http10: boolean;
  host: string | null;
  /** -1: no Content-Length. */
  contentLength: number;
  chunked: boolean;
  /** The connection may carry another request after this one. */
  keepAlive: boolean;
  /** Connection: upgrade with an Upgrade field: the protocol asked for (e.g. "websocket"), else null. */
  upgrade: string | null;
  /** Control and forwarding fields (null when absent). The caller's token is head-token.ts headToken's. */
  traceparent: string | null;
  timeout: string | null;
  tryTimeout: string | null;
  /** The head as received (no final CRLFCRLF), and the fields corral picked out of it. */
  text: string;
  picked: Picked[];
  firstLineEnd: number;
  /** Connection tokens, lower-cased. */
  connection: string[];
  /** No byte of the head is obs-text (>= 0x80): what goes upstream can be written as a string, no latin-1 bytes needed. */
  ascii: boolean;
}

const HIGH_BYTE = /[\x80-\xff]/;

/** Parses a request head (its text up to, not including, the final CRLFCRLF). scan.ts has the same for bytes, faster, for common heads. */
export function parseRequestHead(text: string): RequestHead {
  const first = text.indexOf("\r\n");
  const m = REQUEST_LINE.exec(first === -1 ? text : text.slice(0, first));
  if (!m) throw new HttpError(400, "malformed request line");
  return requestHead(text, m[1]!, m[2]!, m[3] === "0", pick(text, REQUEST_FIELDS, 400), first === -1 ? text.length : first);
}

/** A validated request line and the fields picked from the head: what they mean, or why they are refused. */
export function requestHead(text: string, method: string, target: string, http10: boolean, p: Picked[], firstLineEnd: number, ascii = !HIGH_BYTE.test(text)): RequestHead {
  // One pass over the picked fields (this runs per request).
  let cl = -1;
  let host: string | null = null;
  let hosts = 0;
  let upgradeField: string | null = null;
  let traceparent: string | null = null;
  let timeout: string | null = null;
  let tryTimeout: string | null = null;
  let te = NO_TOKENS;
  let connection = NO_TOKENS;
  for (const f of p) {
    switch (f.name) {
      case "host": hosts++; host = f.value; break;
      case "content-length": cl = addContentLength(f.value, cl, 400); break;
      case "transfer-encoding": te = listTokens(f.value, te); break;
      case "connection": connection = listTokens(f.value, connection); break;
      case "upgrade": upgradeField ??= f.value; break;
      case "traceparent": traceparent ??= f.value; break;
      case "x-corral-timeout": timeout ??= f.value; break;
      case "x-corral-try-timeout": tryTimeout ??= f.value; break;
    }
  }
  if (te.length && cl !== -1) throw new HttpError(400, "both Transfer-Encoding and Content-Length");
  if (te.length && (te.length !== 1 || te[0] !== "chunked")) throw new HttpError(501, "only the chunked transfer coding is supported");
  if (http10 && te.length) throw new HttpError(400, "Transfer-Encoding in an HTTP/1.0 request");
  if (hosts > 1) throw new HttpError(400, "more than one Host");
  if (!http10 && !hosts) throw new HttpError(400, "missing Host");
  return {
    method, target, http10, host, contentLength: cl, chunked: te.length === 1,
    keepAlive: !http10 && !connection.includes("close"),
    upgrade: upgradeField !== null && connection.includes("upgrade") ? upgradeField : null,
    traceparent, timeout, tryTimeout,
    text, picked: p, firstLineEnd, connection, ascii,
  };
}

export interface Forwarding {
  ip: string;
  traceparent: string;
  /** The call crosses the mesh: the caller's identity fields are dropped. */
  mesh?: boolean;
}

const REQUEST_HANDLED = /^(host|connection|upgrade|keep-alive|proxy-connection|te|trailer|close|content-length|transfer-encoding)$/;

/**
 * Where the pieces of the head sent upstream go: a string (upstreamPrefix),
 * or bytes copied from what the client sent (head-bytes.ts, the raw-socket
 * listener's path: no string per request).
 */
export interface PrefixSink {
  /** Text added by corral; `bytes`, when given, is its latin-1 encoding made once (a constant). */
  text(s: string, bytes?: Buffer): void;
  /** The received head's text[from, to) (its bytes, for a byte sink). */
  part(from: number, to: number): void;
}

const enc = (s: string): [string, Buffer] => [s, Buffer.from(s, "latin1")];
const HTTP11 = enc(" HTTP/1.1");
const CRLF = enc("\r\n");
const XFF = enc("x-forwarded-for: ");
const XFP = enc("x-forwarded-proto: http\r\n");
const XFH = enc("x-forwarded-host: ");
const CONN_CLOSE = enc("connection: close\r\n");
const CONN_UPGRADE = enc("connection: upgrade\r\nupgrade: ");
/** The fields dropped from a head, in order: reused by every call (synchronous, one at a time), so none allocates a list. */
const DROP: Picked[] = [];

/**
 * Writes the head sent upstream to `out`, without its traceparent and Host
 * lines and final CRLF (per attempt: `+ "host: <instance>\r\n\r\n"`).
 * Fields corral does not handle stay byte for byte; framing fields stay
 * (the body is passed on as is); hop-by-hop and control fields go;
 * forwarding fields are added.
 */
export function writeUpstreamPrefix(h: RequestHead, target: string, fwd: Omit<Forwarding, "traceparent">, out: PrefixSink): void {
  const drop = DROP;
  drop.length = 0;
  let xff = "";
  let proto = false;
  let fhost = false;
  for (const f of h.picked) {
    if (f.name === "content-length" || f.name === "transfer-encoding") continue;
    if (!fwd.mesh && MESH_FIELDS.has(f.name)) continue;
    // The caller's corral token stays here; a backend's own Authorization goes on (../credentials.ts).
    if (f.name === "authorization" && !isCorralBearer(f.value)) continue;
    if (f.name === "x-forwarded-proto") proto = true;
    else if (f.name === "x-forwarded-host") fhost = true;
    else {
      if (f.name === "x-forwarded-for") xff = xff ? `${xff}, ${f.value}` : f.value;
      drop.push(f);
    }
  }
  if (h.connection.length) addNamed(drop, connectionNamed(h.text, h.connection, REQUEST_HANDLED));
  const t = withoutTokenParam(target);
  // The request line as received up to its target ("METHOD SP target") when the target goes on unchanged.
  if (t === h.target) out.part(0, h.method.length + 1 + t.length);
  else {
    out.text(h.method);
    out.text(" ");
    out.text(t);
  }
  out.text(HTTP11[0], HTTP11[1]);
  let at = h.firstLineEnd;
  for (const d of drop) {
    if (d.start > at) out.part(at, d.start);
    at = d.end;
  }
  if (h.text.length > at) out.part(at, h.text.length);
  drop.length = 0;
  out.text(CRLF[0], CRLF[1]);
  if (fwd.ip) xff = xff ? `${xff}, ${fwd.ip}` : fwd.ip;
  if (xff) {
    out.text(XFF[0], XFF[1]);
    out.text(xff);
    out.text(CRLF[0], CRLF[1]);
  }
  if (!proto) out.text(XFP[0], XFP[1]);
  if (!fhost && h.host) {
    out.text(XFH[0], XFH[1]);
    out.text(h.host);
    out.text(CRLF[0], CRLF[1]);
  }
  if (h.http10) out.text(CONN_CLOSE[0], CONN_CLOSE[1]); // its answer must be close-delimited or dechunked anyway
  // An upgrade is the one hop-by-hop request the instance must see: it is what the tunnel is for.
  else if (h.upgrade !== null) {
    out.text(CONN_UPGRADE[0], CONN_UPGRADE[1]);
    out.text(h.upgrade);
    out.text(CRLF[0], CRLF[1]);
  }
}

/** writeUpstreamPrefix as a string, with the traceparent line. */
export function upstreamPrefix(h: RequestHead, target: string, fwd: Forwarding): string {
  let s = "";
  writeUpstreamPrefix(h, target, fwd, {
    text: (t) => void (s += t),
    part: (from, to) => void (s += h.text.slice(from, to)),
  });
  return `${s}traceparent: ${fwd.traceparent}\r\n`;
}

export type Framing = "none" | "length" | "chunked" | "close";

export interface ResponseHead {
  status: number;
  contentLength: number;
  framing: Framing;
  /** The instance will close (or is HTTP/1.0): the connection cannot go back to the pool. */
  close: boolean;
  /** HTTP/1.1 with no connection-scoped field: the client may get the head byte for byte. */
  verbatim: boolean;
  text: string;
  picked: Picked[];
  firstLineEnd: number;
  connection: string[];
}

/** Parses a response head (text up to the final CRLFCRLF) to `method`; RFC 9112 §6.3 framing. scan.ts has the same for bytes. */
export function parseResponseHead(text: string, method: string): ResponseHead {
  const first = text.indexOf("\r\n");
  const m = STATUS_LINE.exec(first === -1 ? text : text.slice(0, first));
  if (!m) throw new HttpError(502, "malformed status line from the instance");
  return responseHead(text, method, m[1] === "0", Number(m[2]), pick(text, RESPONSE_FIELDS, 502), first === -1 ? text.length : first);
}

/** A validated status line and the fields picked from the head: how the body is delimited and whether the connection lives on. */
export function responseHead(text: string, method: string, http10: boolean, status: number, p: Picked[], firstLineEnd: number): ResponseHead {
  let cl = -1;
  let verbatim = !http10;
  let te = NO_TOKENS;
  let connection = NO_TOKENS;
  for (const f of p) {
    if (f.name === "content-length") cl = addContentLength(f.value, cl, 502);
    else if (f.name === "transfer-encoding") te = listTokens(f.value, te);
    else {
      verbatim = false; // connection, keep-alive, proxy-connection: not for the client
      if (f.name === "connection") connection = listTokens(f.value, connection);
    }
  }
  if (te.length) cl = -1;
  let framing: Framing;
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) framing = "none";
  else if (te.length) framing = te[te.length - 1] === "chunked" ? "chunked" : "close";
  else framing = cl >= 0 ? "length" : "close";
  return {
    status, contentLength: cl, framing,
    close: status === 101 || (http10 ? !connection.includes("keep-alive") : connection.includes("close")),
    verbatim, text, picked: p, firstLineEnd, connection,
  };
}

const RESPONSE_HANDLED = /^(connection|keep-alive|proxy-connection|close|content-length|transfer-encoding)$/;

/** The head the client gets: the instance's, minus connection-scoped fields (and framing when dechunked for HTTP/1.0). */
export function clientHead(r: ResponseHead, closeAfter: boolean, dechunk: boolean): string {
  const drop = r.picked.filter((f) => f.name === "connection" || f.name === "keep-alive" || f.name === "proxy-connection" || (dechunk && f.name === "transfer-encoding"));
  if (r.connection.length) addNamed(drop, connectionNamed(r.text, r.connection, RESPONSE_HANDLED));
  const statusLine = `HTTP/1.1${r.text.slice(8, r.firstLineEnd)}`; // "HTTP/1.0 200 OK" -> "HTTP/1.1 200 OK"
  return `${statusLine}${cut(r.text, r.firstLineEnd, drop)}\r\n${closeAfter ? "connection: close\r\n" : ""}\r\n`;
}

const REASONS: Record<number, string> = {
  400: "Bad Request", 403: "Forbidden", 404: "Not Found", 413: "Content Too Large", 431: "Request Header Fields Too Large",
  499: "Client Closed Request", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
};

/** A complete response corral writes itself (JSON errors). */
export function simpleResponse(status: number, json: string, close: boolean): string {
  const body = Buffer.byteLength(json);
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${body}\r\n${close ? "connection: close\r\n" : ""}\r\n${json}`;
}
