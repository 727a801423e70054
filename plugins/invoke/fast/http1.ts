// HTTP/1.1 message heads (RFC 9112) for the raw-socket proxy: parse the
// client's request head and the instance's response head, decide how each
// body is framed, and write the heads that go on.
//
// Strict where leniency lets requests be smuggled past a proxy: CRLF only,
// no obs-fold, no space before the colon, no control characters in values,
// Content-Length and Transfer-Encoding together refused, conflicting
// Content-Lengths refused, only "chunked" as a request transfer coding.
import { TIMEOUT_HEADER, TOKEN_HEADERS, TRY_TIMEOUT_HEADER } from "../headers.ts";

/** A head (request line or status line plus fields) larger than this is refused (431 / 502). */
export const MAX_HEAD_BYTES = 64 * 1024;

// Checked once over the whole head rather than per field: a control
// character (HTAB aside) or a lone CR/LF anywhere, and any field line that
// is not `token ":"` (which also catches obs-fold and "name :").
const BAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const BAD_FIELD_LINE = /\r\n(?![!#$%&'*+\-.^_`|~0-9A-Za-z]+:)/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\s\x00-\x1f\x7f]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Header fields: lower-case names, trimmed values, and the lines as received (to pass on verbatim). */
export interface Fields {
  names: string[];
  values: string[];
  lines: string[];
}

function parseFields(text: string, status: number): { first: string; fields: Fields } {
  if (BAD_CHAR.test(text)) throw new HttpError(status, "control character or bare CR/LF in the head");
  if (BAD_FIELD_LINE.test(text)) throw new HttpError(status, "malformed header field");
  const lines = text.split("\r\n");
  const f: Fields = { names: [], values: [], lines: [] };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    f.names.push(line.slice(0, colon).toLowerCase());
    f.values.push(line.slice(colon + 1).trim());
    f.lines.push(line);
  }
  return { first: lines[0]!, fields: f };
}

/** Every value of a field, comma lists split, lower-cased. */
export function tokens(f: Fields, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < f.names.length; i++) {
    if (f.names[i] !== name) continue;
    for (const t of f.values[i]!.split(",")) if (t.trim()) out.push(t.trim().toLowerCase());
  }
  return out;
}

export function field(f: Fields, name: string): string | null {
  const i = f.names.indexOf(name);
  return i === -1 ? null : f.values[i]!;
}

/** -1 when absent; repeated values must agree (RFC 9112 §6.3 item 5). */
function contentLength(f: Fields, status: number): number {
  let n = -1;
  for (const v of tokens(f, "content-length")) {
    if (!/^\d{1,15}$/.test(v)) throw new HttpError(status, "invalid Content-Length");
    const x = Number(v);
    if (n !== -1 && x !== n) throw new HttpError(status, "conflicting Content-Length values");
    n = x;
  }
  return n;
}

export interface RequestHead {
  method: string;
  target: string;
  http10: boolean;
  fields: Fields;
  host: string | null;
  /** -1: no Content-Length. */
  contentLength: number;
  chunked: boolean;
  /** The connection may carry another request after this one. */
  keepAlive: boolean;
  upgrade: boolean;
}

export function parseRequestHead(text: string): RequestHead {
  const { first, fields } = parseFields(text, 400);
  const m = REQUEST_LINE.exec(first);
  if (!m) throw new HttpError(400, "malformed request line");
  const te = tokens(fields, "transfer-encoding");
  const cl = contentLength(fields, 400);
  if (te.length && cl !== -1) throw new HttpError(400, "both Transfer-Encoding and Content-Length");
  if (te.length && (te.length !== 1 || te[0] !== "chunked")) throw new HttpError(501, "only the chunked transfer coding is supported");
  const http10 = m[3] === "0";
  if (http10 && te.length) throw new HttpError(400, "Transfer-Encoding in an HTTP/1.0 request");
  const connection = tokens(fields, "connection");
  const host = field(fields, "host");
  if (!http10 && host === null) throw new HttpError(400, "missing Host");
  return {
    method: m[1]!, target: m[2]!, http10, fields, host, contentLength: cl, chunked: te.length === 1,
    keepAlive: !http10 && !connection.includes("close"),
    upgrade: connection.includes("upgrade") && fields.names.includes("upgrade"),
  };
}

export type Framing = "none" | "length" | "chunked" | "close";

export interface ResponseHead {
  status: number;
  statusLine: string;
  fields: Fields;
  contentLength: number;
  framing: Framing;
  /** The instance will close (or is HTTP/1.0): the connection cannot go back to the pool. */
  close: boolean;
}

/** RFC 9112 §6.3: how a response to `method` is delimited. */
export function parseResponseHead(text: string, method: string): ResponseHead {
  const { first, fields } = parseFields(text, 502);
  const m = STATUS_LINE.exec(first);
  if (!m) throw new HttpError(502, "malformed status line from the instance");
  const status = Number(m[2]);
  const te = tokens(fields, "transfer-encoding");
  const cl = te.length ? -1 : contentLength(fields, 502);
  let framing: Framing;
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) framing = "none";
  else if (te.length) framing = te[te.length - 1] === "chunked" ? "chunked" : "close";
  else framing = cl >= 0 ? "length" : "close";
  const connection = tokens(fields, "connection");
  return {
    status, statusLine: `HTTP/1.1 ${m[2]} ${m[3] ?? ""}`, fields, contentLength: cl, framing,
    close: status === 101 || (m[1] === "0" ? !connection.includes("keep-alive") : connection.includes("close")),
  };
}

/** Request fields corral consumes or replaces; the rest go on as received. */
const DROP_REQUEST = new Set([
  "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "host",
  TIMEOUT_HEADER, TRY_TIMEOUT_HEADER, ...TOKEN_HEADERS, "traceparent", "x-forwarded-for",
]);

export interface Forwarding {
  ip: string;
  traceparent: string;
}

/**
 * The head sent upstream, without its Host line and final CRLF (per
 * attempt: `prefix + "host: <instance>\r\n\r\n"`). Framing fields stay: the
 * body is passed on byte for byte.
 */
export function upstreamPrefix(h: RequestHead, target: string, fwd: Forwarding): string {
  const f = h.fields;
  const named = tokens(f, "connection");
  let out = `${h.method} ${target} HTTP/1.1\r\n`;
  let xff = "";
  let proto = false;
  let fhost = false;
  for (let i = 0; i < f.names.length; i++) {
    const n = f.names[i]!;
    if (n === "x-forwarded-for") xff = xff ? `${xff}, ${f.values[i]}` : f.values[i]!;
    if (DROP_REQUEST.has(n) || (named.length && named.includes(n))) continue;
    if (n === "x-forwarded-proto") proto = true;
    else if (n === "x-forwarded-host") fhost = true;
    out += f.lines[i] + "\r\n";
  }
  if (fwd.ip) xff = xff ? `${xff}, ${fwd.ip}` : fwd.ip;
  if (xff) out += `x-forwarded-for: ${xff}\r\n`;
  if (!proto) out += "x-forwarded-proto: http\r\n";
  if (!fhost && h.host) out += `x-forwarded-host: ${h.host}\r\n`;
  if (h.http10) out += "connection: close\r\n"; // its answer must be close-delimited or dechunked anyway
  return out + `traceparent: ${fwd.traceparent}\r\n`;
}

/** The head the client gets: the instance's, minus connection-scoped fields. */
export function clientHead(r: ResponseHead, closeAfter: boolean, dechunk: boolean): string {
  const f = r.fields;
  const named = tokens(f, "connection");
  let out = r.statusLine + "\r\n";
  for (let i = 0; i < f.names.length; i++) {
    const n = f.names[i]!;
    if (n === "connection" || n === "keep-alive" || n === "proxy-connection" || (named.length && named.includes(n))) continue;
    if (dechunk && n === "transfer-encoding") continue;
    out += f.lines[i] + "\r\n";
  }
  if (closeAfter) out += "connection: close\r\n";
  return out + "\r\n";
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
