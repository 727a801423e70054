// The http and tcp probes: one attempt each, Consul's rules. Published
// through core/sdk: the health plugin runs them for the checks registered on
// this node, the exec plugin for its job services' checks (its stopgap
// runner), so a check answers the same whoever runs it.
//
// http: 2xx passing, 429 warning (Too Many Requests: alive but shedding),
// anything else critical, and no answer within the timeout critical. Output
// is Consul's "HTTP GET <url>: 200 OK Output: <body excerpt>"; the excerpt
// is the first `maxBytes` bytes of the body (plugins.health.output_max_size,
// Consul's 4 KiB by default), cut on a UTF-8 boundary. The rest of a body up
// to 64 KiB is read and dropped so the connection goes back to fetch's
// keep-alive pool (Bun pools connections per host); a longer one is cancelled.
// Redirects are followed as Go's client (and so Consul) follows them: at
// most 10, http(s) only — here by hand, because fetch would follow one to
// any scheme it reads (file:, data:, s3:…) and put that content in Output.
// Every URL fetched, the first included, passes httpCheckUrlError. 301/302
// turn a POST into a GET, 303 anything into a GET, 307/308 keep the method
// and body (Go's rules); Consul's DisableRedirects makes the 3xx itself the
// answer (critical). `tls_skip_verify` uses Bun's fetch `tls` option
// (other runtimes verify regardless).
//
// tcp: a connection within the timeout is passing, anything else critical.
import { connect } from "node:net";
import { formatDuration } from "../config/duration.ts";
import { MAX_CHECK_OUTPUT, type CheckStatus } from "../state/domains/catalog.ts";
import { httpCheckUrlError } from "./check-url.ts";

export interface HttpProbeSpec {
  kind: "http";
  url: string;
  method: string;
  /** Name/value pairs in order, repeated names allowed (Consul's map of lists). */
  headers: [string, string][];
  body?: string;
  tlsSkipVerify: boolean;
  /** Consul's DisableRedirects: a 3xx answer is the result (critical), not followed. */
  disableRedirects?: boolean;
}

export interface TcpProbeSpec {
  kind: "tcp";
  host: string;
  port: number;
}

/** Consul's default size of a check's Output body excerpt (4 KiB; plugins.health.output_max_size). */
export const DEFAULT_OUTPUT_MAX_BYTES = MAX_CHECK_OUTPUT;

/** Redirects followed before a probe gives up (Go's http.Client: 10). */
export const MAX_REDIRECTS = 10;

export interface ProbeResult {
  status: CheckStatus;
  output: string;
}

/** Body bytes read past the excerpt to keep a connection reusable; longer bodies are cancelled. */
const DRAIN_LIMIT = 64 * 1024;
const DEFAULT_HEADERS: [string, string][] = [["User-Agent", "Consul Health Check"], ["Accept", "text/plain, text/*, */*"]];
const decoder = new TextDecoder();

export function clip(output: string): string {
  return output.length > MAX_CHECK_OUTPUT ? output.slice(0, MAX_CHECK_OUTPUT) : output;
}

/** The first `max` bytes as text, not splitting a UTF-8 sequence. */
export function utf8Prefix(bytes: Uint8Array, max: number): string {
  if (bytes.length <= max) return decoder.decode(bytes);
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

async function readExcerpt(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return "";
  const length = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(length) && length <= DRAIN_LIMIT) return utf8Prefix(new Uint8Array(await res.arrayBuffer()), maxBytes);
  const reader = res.body.getReader();
  const kept = new Uint8Array(maxBytes + 4);
  let have = 0;
  let seen = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, kept.length - have);
    kept.set(value.subarray(0, take), have);
    have += take;
    seen += value.length;
    if (seen > DRAIN_LIMIT) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return utf8Prefix(kept.subarray(0, have), maxBytes);
}

export function httpStatus(code: number): CheckStatus {
  return code >= 200 && code < 300 ? "passing" : code === 429 ? "warning" : "critical";
}

function failure(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).slice(0, 300);
}

/** The options of most checks (GET, no headers of their own, no body): one object for all of them. */
const PLAIN_GET: RequestInit = { method: "GET", headers: DEFAULT_HEADERS, redirect: "manual" };

/** Per-spec fetch options, built once per check (index.ts caches them). */
export function httpInit(p: HttpProbeSpec): RequestInit {
  if (p.method === "GET" && p.headers.length === 0 && !p.body && !p.tlsSkipVerify) return PLAIN_GET;
  const names = new Set(p.headers.map(([n]) => n.toLowerCase()));
  const headers = [...DEFAULT_HEADERS.filter(([n]) => !names.has(n.toLowerCase())), ...p.headers];
  const init: RequestInit & { tls?: { rejectUnauthorized: boolean } } = { method: p.method, headers, redirect: "manual" };
  if (p.body !== undefined && p.body !== "") init.body = p.body;
  if (p.tlsSkipVerify) init.tls = { rejectUnauthorized: false };
  return init;
}

/**
 * One request. The timeout is a plain timer cleared when the probe ends:
 * AbortSignal.timeout() would keep a timer and a signal alive for the whole
 * timeout after every probe (10,000 of them at 1,000 probes/s and 10 s).
 */
export async function httpProbe(p: HttpProbeSpec, init: RequestInit, timeoutMs: number, maxBytes: number): Promise<ProbeResult> {
  const line = `HTTP ${p.method} ${p.url}`;
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, timeoutMs);
  try {
    let url = p.url;
    let req: RequestInit = init;
    for (let hop = 0; ; hop++) {
      const bad = httpCheckUrlError(url);
      if (bad) return { status: "critical", output: clip(`${line}: ${hop ? `redirect refused: ${bad}` : bad}`) };
      const res = await fetch(url, { ...req, signal: ctl.signal });
      const next = p.disableRedirects ? undefined : redirectTarget(res, url);
      if (next === undefined) {
        const excerpt = await readExcerpt(res, maxBytes);
        return { status: httpStatus(res.status), output: clip(`${line}: ${res.status} ${res.statusText} Output: ${excerpt}`) };
      }
      await res.body?.cancel().catch(() => {});
      if (hop >= MAX_REDIRECTS) return { status: "critical", output: clip(`${line}: stopped after ${MAX_REDIRECTS} redirects`) };
      url = next;
      req = redirectedInit(req, res.status);
    }
  } catch (err) {
    return { status: "critical", output: clip(`${line}: ${timedOut ? `timed out after ${formatDuration(timeoutMs)}` : failure(err)}`) };
  } finally {
    clearTimeout(timer);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The absolute URL a redirect answer points to; undefined when `res` is no redirect (or has no Location). */
function redirectTarget(res: Response, from: string): string | undefined {
  if (!REDIRECTS.has(res.status)) return undefined;
  const location = res.headers.get("location");
  if (!location) return undefined;
  try {
    return new URL(location, from).href;
  } catch {
    return undefined; // Go answers with the 3xx itself when Location does not parse
  }
}

/** Go's rules: 303 (and 301/302 after a POST) go on as a GET without a body; 307/308 repeat the request. */
function redirectedInit(init: RequestInit, status: number): RequestInit {
  const method = (init.method ?? "GET").toUpperCase();
  if (status === 303 ? method !== "GET" && method !== "HEAD" : (status === 301 || status === 302) && method === "POST") {
    const { body: _body, ...rest } = init;
    return { ...rest, method: "GET" };
  }
  return init;
}

export function tcpProbe(p: TcpProbeSpec, timeoutMs: number): Promise<ProbeResult> {
  const where = p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
  return new Promise((resolve) => {
    const sock = connect({ host: p.host, port: p.port });
    const done = (status: CheckStatus, output: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ status, output });
    };
    const timer = setTimeout(() => done("critical", `TCP connect ${where}: timed out after ${formatDuration(timeoutMs)}`), timeoutMs);
    sock.once("connect", () => done("passing", `TCP connect ${where}: Success`));
    sock.once("error", (e) => done("critical", `TCP connect ${where}: ${e.message.slice(0, 300)}`));
  });
}
