// The plain HTTP proxy listener: `Host: <service>` or
// `Host: <service>.service[.<dc>].<domain>` picks the service; the path and
// query go upstream unchanged. A Host that is an IP address or "localhost"
// may use the API's path form instead: /v1/invoke/<service>/<path>.
//
// Two engines serve it: raw sockets (fast/server.ts, Bun only, the default)
// and this file's fetch handler — a bare Bun.serve handler (no router, no
// middleware), or the node's generic server under Node and Deno.
import { isIP } from "node:net";
import { serve } from "../../core/sdk/index.ts";
import type { CallHandler } from "./fetch.ts";
import type { ClientInfo } from "./headers.ts";

export interface ListenerOptions {
  bind: string;
  port: number;
  /** Without the trailing dot. */
  domain: string;
  datacenter: string;
  /** Largest request body Bun accepts on this socket; 0 = effectively none. */
  maxRequestBytes: number;
}

export interface Listener {
  address: string;
  port: number;
  close(): Promise<void>;
}

const INVOKE_PREFIX = "/v1/invoke/";
/** Host -> service (or "" for none) results kept; cleared when full (client-chosen names must not grow memory). */
const HOST_CACHE_MAX = 1024;

export class HostRouter {
  private cache = new Map<string, string>();
  private readonly suffix: string;
  private readonly dcSuffix: string;

  constructor(domain: string, datacenter: string) {
    this.suffix = `.service.${domain}`;
    this.dcSuffix = `.service.${datacenter.toLowerCase()}.${domain}`;
  }

  /** The service a Host header names, or "" when it names none. */
  service(host: string | null): string {
    if (!host) return "";
    let s = this.cache.get(host);
    if (s !== undefined) return s;
    s = this.parse(host);
    if (this.cache.size >= HOST_CACHE_MAX) this.cache.clear();
    this.cache.set(host, s);
    return s;
  }

  /**
   * May a request with this Host use the path form (/v1/invoke/<service>/...)?
   * Only with an IP address, localhost or no Host: under any other name a
   * DNS-rebinding page (evil.example re-pointed at 127.0.0.1) would reach every
   * service and, being "same-origin", read the answers.
   */
  pathFormAllowed(host: string | null): boolean {
    if (!host) return true;
    let h = host.toLowerCase();
    if (h.startsWith("[")) return true; // an IPv6 literal
    const colon = h.lastIndexOf(":");
    if (colon !== -1) h = h.slice(0, colon);
    h = h.replace(/\.+$/, "");
    return h === "localhost" || h.endsWith(".localhost") || isIP(h) !== 0;
  }

  private parse(host: string): string {
    let h = host.toLowerCase();
    if (h.startsWith("[")) return ""; // an IPv6 literal
    const colon = h.lastIndexOf(":");
    if (colon !== -1) h = h.slice(0, colon);
    h = h.replace(/\.+$/, "");
    if (h === "" || h === "localhost" || isIP(h) !== 0) return "";
    for (const suffix of [this.dcSuffix, this.suffix]) {
      if (h.endsWith(suffix)) {
        const name = h.slice(0, -suffix.length);
        return name.includes(".") ? "" : name;
      }
    }
    return h.includes(".") ? "" : h;
  }
}

/** Splits "/v1/invoke/<service>/<rest>?q" into the service (decoded) and "/<rest>?q". */
export function splitInvokePath(pathAndQuery: string): { service: string; target: string } | undefined {
  if (!pathAndQuery.startsWith(INVOKE_PREFIX)) return undefined;
  const rest = pathAndQuery.slice(INVOKE_PREFIX.length);
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i];
    if (ch === "/" || ch === "?") {
      end = i;
      break;
    }
  }
  let service: string;
  try {
    service = decodeURIComponent(rest.slice(0, end));
  } catch {
    return undefined;
  }
  if (!service) return undefined;
  const tail = rest.slice(end);
  return { service, target: tail.startsWith("/") ? tail : `/${tail}` };
}

/** The path and query of an absolute request URL, without parsing it. */
export function pathAndQuery(url: string): string {
  const at = url.indexOf("/", url.indexOf("//") + 2);
  return at === -1 ? "/" : url.slice(at);
}

function notRouted(host: string | null): Response {
  return Response.json(
    { error: `Host ${JSON.stringify(host ?? "")} names no service: use "Host: <service>" or "<service>.service.<domain>", or the path /v1/invoke/<service>/... with an IP address or localhost as Host`, code: "NO_SERVICE_IN_HOST" },
    { status: 404 },
  );
}

export async function startFetchListener(opts: ListenerOptions, handle: CallHandler): Promise<Listener> {
  const router = new HostRouter(opts.domain, opts.datacenter);
  const route = (req: Request, ip: string): Promise<Response> | Response => {
    const host = req.headers.get("host");
    const target = pathAndQuery(req.url);
    const client: ClientInfo = { ip, proto: "http" };
    const service = router.service(host);
    if (service) return handle(req, service, target, client);
    const byPath = router.pathFormAllowed(host) ? splitInvokePath(target) : undefined;
    return byPath ? handle(req, byPath.service, byPath.target, client) : notRouted(host);
  };
  const Bun = (globalThis as { Bun?: any }).Bun;
  if (Bun?.serve) {
    const server = Bun.serve({
      hostname: opts.bind,
      port: opts.port,
      // Event streams and long polls through the proxy may be idle for minutes.
      idleTimeout: 0,
      maxRequestBodySize: opts.maxRequestBytes > 0 ? opts.maxRequestBytes : Number.MAX_SAFE_INTEGER,
      fetch: (req: Request, srv: { requestIP(r: Request): { address: string } | null }) => route(req, srv.requestIP(req)?.address ?? ""),
    });
    return { address: opts.bind, port: server.port, close: async () => void server.stop(true) };
  }
  const server = await serve((req) => route(req, ""), { hostname: opts.bind, port: opts.port });
  return { address: opts.bind, port: server.port, close: () => server.stop() };
}
