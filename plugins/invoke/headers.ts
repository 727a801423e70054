// Headers across the hop: what the backend receives and what the client gets.
//
// Request: hop-by-hop headers (RFC 9110 §7.6.1, plus any named in
// Connection), corral's own control headers and the caller's corral token
// (credentials.ts) are dropped; Host becomes the
// instance's address (the original goes in X-Forwarded-Host);
// X-Forwarded-For gets the client's address appended; X-Forwarded-Proto and
// X-Forwarded-Host are kept when an earlier proxy set them (corral usually
// sits behind the edge that terminated TLS) and set otherwise; traceparent is
// renewed for this hop (trace.ts).
import { isCorralBearer } from "./credentials.ts";
import type { TraceIds } from "./trace.ts";

/** Per-request control headers: read by corral, never forwarded. */
export const TIMEOUT_HEADER = "x-corral-timeout";
export const TRY_TIMEOUT_HEADER = "x-corral-try-timeout";
export const TOKEN_HEADERS = ["x-corral-token", "x-consul-token"] as const;

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"];
const CONTROL = [TIMEOUT_HEADER, TRY_TIMEOUT_HEADER, ...TOKEN_HEADERS];

export interface ClientInfo {
  /** The peer's address; "" when the runtime cannot tell. */
  ip: string;
  proto: "http" | "https";
}

export function upstreamHeaders(incoming: Headers, client: ClientInfo, trace: TraceIds): Headers {
  const h = new Headers(incoming);
  const connection = h.get("connection");
  if (connection) for (const name of connection.split(",")) if (name.trim()) h.delete(name.trim());
  const host = h.get("host");
  for (const name of HOP_BY_HOP) h.delete(name);
  for (const name of CONTROL) h.delete(name);
  // The caller's corral token in Authorization stays here (credentials.ts); a backend's own credentials go on.
  const auth = h.get("authorization");
  if (auth !== null && isCorralBearer(auth)) h.delete("authorization");
  if (client.ip) {
    const xff = h.get("x-forwarded-for");
    h.set("x-forwarded-for", xff ? `${xff}, ${client.ip}` : client.ip);
  }
  if (!h.has("x-forwarded-proto")) h.set("x-forwarded-proto", client.proto);
  if (host && !h.has("x-forwarded-host")) h.set("x-forwarded-host", host);
  h.set("traceparent", trace.next(incoming.get("traceparent")));
  return h;
}

/** The upstream answer is returned as is, minus the headers that described its own connection. */
export function stripResponseHopHeaders(h: Headers): void {
  if (h.has("connection")) {
    for (const name of h.get("connection")!.split(",")) if (name.trim()) h.delete(name.trim());
    h.delete("connection");
  }
  if (h.has("keep-alive")) h.delete("keep-alive");
  if (h.has("proxy-connection")) h.delete("proxy-connection");
}

/** "250ms", "2s" or a bare number of milliseconds (like Envoy's x-envoy-upstream-rq-timeout-ms); undefined when absent or bad. */
export function timeoutHeaderMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 1);
  return n > 0 && n <= 3_600_000 ? Math.round(n) : undefined;
}
