// What every answer to a malformed request must look like:
//  - a real HTTP answer, in time (a held blocking query or an event stream
//    may outlive the client's patience: only GETs that ask to block, and
//    streams, may time out);
//  - never a 5xx, except the 500s Consul itself answers on its own routes
//    ("No path to datacenter", `CheckID "x" does not have associated TTL`);
//  - a 4xx carries JSON { error: string, code: string }; on Consul-compatible
//    routes (core/http/consul-paths.ts) a short text/plain body instead, or
//    an empty 404 (a missing KV key); 431 (headers too large) comes from
//    the HTTP server itself, before corral, and may have any body.
import { isConsulPath } from "../../core/http/consul-paths.ts";
import type { RawRequest, RawResponse } from "./raw-http.ts";

const CONSUL_500 = [
  /^No path to datacenter$/, /^CheckID ".*" does not have associated TTL$/s,
  // Sessions and locks (docs/coordination.md): Consul answers these RPC errors as 500s.
  /^Invalid session ".*"$/s, /^Missing node registration$/, /^Missing check '.*' registration$/s, /^Check '.*' is in critical state$/s, /^No cluster leader$/,
];

/**
 * Bun's HTTP parser answers a request line holding a control byte or a bare
 * space with an empty 505 and closes, before any corral code runs (it ought
 * to be a 400; nothing in a fetch handler can change it). Only that exact
 * case is let through.
 */
function parserRefusal(req: RawRequest, res: RawResponse): boolean {
  const t = typeof req.target === "string" ? Buffer.from(req.target, "utf8") : Buffer.from(req.target);
  return res.status === 505 && res.body.length === 0 && t.some((b) => b < 0x21 || b === 0x7f);
}

export function servedPath(target: RawRequest["target"]): string {
  const t = typeof target === "string" ? target : Buffer.from(target).toString("latin1");
  try {
    return new URL(t, "http://127.0.0.1").pathname;
  } catch {
    return t.split("?")[0]!;
  }
}

function mayHang(req: RawRequest, path: string): boolean {
  if (req.method !== "GET") return false;
  const t = typeof req.target === "string" ? req.target : Buffer.from(req.target).toString("latin1");
  return path === "/v1/events" || /[?&]index=/.test(t) || path.endsWith("/logs");
}

/** Whether a request may rightly get no answer for a while (a stream, a blocking query, logs). */
export function mayHold(req: RawRequest): boolean {
  return mayHang(req, servedPath(req.target));
}

/** undefined when the answer is acceptable, else why not. */
export function judge(req: RawRequest, res: RawResponse): string | undefined {
  const path = servedPath(req.target);
  if (res.timedOut) return mayHang(req, path) || res.status === 200 ? undefined : `no answer in time (status ${res.status || "none"})`;
  if (res.status === 0) return "no HTTP answer";
  const text = res.body.toString("utf8");
  const type = res.headers.get("content-type") ?? "";
  const consul = isConsulPath(path);
  if (parserRefusal(req, res)) return undefined;
  if (res.status >= 500) {
    if (consul && res.status === 500 && CONSUL_500.some((re) => re.test(text))) return undefined;
    return `${res.status} ${text.slice(0, 200)}`;
  }
  if (res.status < 400 || res.status === 431) return undefined;
  if (type.includes("application/json")) {
    let b: { error?: unknown; code?: unknown } | undefined;
    try {
      b = JSON.parse(text);
    } catch {
      return `${res.status} with a JSON content type but no JSON body: ${text.slice(0, 120)}`;
    }
    if (typeof b?.error === "string" && typeof b?.code === "string") return undefined;
    return `${res.status} JSON error without {error, code}: ${text.slice(0, 120)}`;
  }
  if (consul && type.includes("text/plain") && text.length > 0 && text.length <= 1024) return undefined;
  if (consul && res.status === 404 && text.length === 0 && path.startsWith("/v1/kv/")) return undefined;
  return `${res.status} ${type || "(no content type)"} body ${JSON.stringify(text.slice(0, 120))}${consul ? "" : " (not a Consul route: JSON {error, code} expected)"}`;
}
