// Header fields across the h2 relay, as lists of [name, value] (HPACK's
// shape), with the same rules as headers.ts applies to WHATWG Headers for
// HTTP/1.1 and the fetch front — the h2 relay cannot afford a Headers round
// trip per call (~20 µs), so the rules are written once more here over
// arrays, and test/invoke/h2-fields.test.ts holds the two to the same answers.
// Pure: no I/O.
import { isCorralBearer } from "../credentials.ts";
import { TIMEOUT_HEADER, TOKEN_HEADERS, TRY_TIMEOUT_HEADER, type ClientInfo } from "../headers.ts";
import type { TraceIds } from "../trace.ts";
import type { Field } from "./hpack.ts";

/** Dropped on the way in (headers.ts's hop-by-hop list and corral's controls). */
const DROP_IN = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host", TIMEOUT_HEADER, TRY_TIMEOUT_HEADER, ...TOKEN_HEADERS]);

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or that describe one hop: never copied to the client. */
const DROP_OUT = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"]);

/** All values of `name`, joined as Headers.get joins them; null when absent. */
export function joined(fields: readonly Field[], name: string): string | null {
  let out: string | null = null;
  for (const [n, v] of fields) if (n === name) out = out === null ? v : `${out}, ${v}`;
  return out;
}

/** The first value of `name` (pseudo-headers included). */
export function first(fields: readonly Field[], name: string): string | undefined {
  for (const [n, v] of fields) if (n === name) return v;
  return undefined;
}

/**
 * What the instance receives after the pseudo-headers: the client's regular
 * fields (`fields` holds none of the pseudo ones) minus hop-by-hop fields,
 * those named in Connection, corral's controls and credentials; then
 * X-Forwarded-For/-Proto/-Host and a renewed traceparent, as headers.ts.
 * `host` is the client's :authority (or Host). gRPC's "te: trailers" is kept:
 * the only TE HTTP/2 allows, and gRPC servers require it.
 */
export function upstreamFields(fields: readonly Field[], host: string | null, client: ClientInfo, trace: TraceIds): Field[] {
  let named: Set<string> | null = null;
  const connection = joined(fields, "connection");
  if (connection) for (const n of connection.split(",")) if (n.trim()) (named ??= new Set()).add(n.trim().toLowerCase());
  const auth = joined(fields, "authorization");
  const dropAuth = auth !== null && isCorralBearer(auth);
  const out: Field[] = [];
  let xff: string | null = null;
  let proto = false;
  let fwdHost = false;
  let te = false;
  for (const f of fields) {
    const n = f[0];
    if (DROP_IN.has(n)) {
      if (n === "te" && f[1] === "trailers") te = true;
      continue;
    }
    if (named?.has(n)) continue;
    if (n === "authorization" && dropAuth) continue;
    if (n === "x-forwarded-for") {
      xff = xff === null ? f[1] : `${xff}, ${f[1]}`;
      continue;
    }
    if (n === "traceparent") continue;
    if (n === "x-forwarded-proto") proto = true;
    else if (n === "x-forwarded-host") fwdHost = true;
    out.push(f);
  }
  if (client.ip) out.push(["x-forwarded-for", xff ? `${xff}, ${client.ip}` : client.ip]);
  else if (xff !== null) out.push(["x-forwarded-for", xff]);
  if (!proto) out.push(["x-forwarded-proto", client.proto]);
  if (host && !fwdHost) out.push(["x-forwarded-host", host]);
  out.push(["traceparent", trace.next(joined(fields, "traceparent"))]);
  if (te) out.push(["te", "trailers"]);
  return out;
}

/** An instance's response headers or trailers for the client: no pseudo-header (the caller adds :status), no connection-specific field. */
export function downstreamFields(fields: readonly Field[]): Field[] {
  const out: Field[] = [];
  for (const f of fields) if (f[0].charCodeAt(0) !== 58 /* : */ && !DROP_OUT.has(f[0])) out.push(f);
  return out;
}
