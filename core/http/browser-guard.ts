// What a web page in the operator's browser may do to this node: nothing it
// was not meant to. Every request (fast paths included: core/node.ts runs
// this before anything else) passes two checks:
//
// - Host allow-list (DNS rebinding): a page on evil.example whose name is
//   re-pointed at 127.0.0.1 reaches the node as a "same-origin" request, with
//   every header it likes, but its Host is still evil.example. Only names the
//   node answers to pass: its bind and advertise addresses, the machine's
//   host name, localhost, 127.0.0.1, [::1], the machine's interface addresses
//   when bound to a wildcard, and `http.allowed_hosts`. Ports are not
//   compared: the attacker controls the name, not the port, and port
//   forwarding (8500 -> 7700) is common for Consul clients.
// - Cross-site writes: a non-GET request whose Origin is neither the node's
//   own (same host as the Host header) nor in `http.allowed_origins`, or that
//   the browser marks `Sec-Fetch-Site: cross-site`/`same-site`, is refused. A
//   form or a `no-cors` fetch can POST text/plain across sites without a
//   preflight; this is what stops it (core/http/middleware/body-type.ts stops
//   such bodies being read as JSON, as a second line).
//   A WebSocket handshake counts as a write whatever its method (GET):
//   browsers apply no CORS to WebSockets, so a page on any site can open one
//   to this node, with the operator's cookies and no preflight, and read
//   every frame (`alloc exec` on a dev node with ACLs off would be a shell).
//
// Peer RPC (/v1/raft/, /v1/cluster/) needs a cluster signature anyway and is
// exempt, as is any request carrying a valid one (a node forwarding a
// client's request; its browser-style headers are the client's). A valid
// signature names this node (core/http/rpc-receiver.ts), by one of the names
// HostAllowList lists: the same list decides both.
// Pure decisions here; the only I/O is reading a signed request's bounded
// body to verify it, and listing the machine's interfaces.
import { networkInterfaces, hostname as osHostname } from "node:os";
import { SIGNATURE_HEADER, type RpcVerifier } from "./middleware/cluster-auth.ts";
import { isWebSocketUpgrade } from "./websocket-upgrade.ts";

export interface BrowserGuardOptions {
  /** node.bind */
  bind: string;
  /** node.advertise's host part ("" when unset). */
  advertise: string;
  /** http.allowed_hosts: host names or addresses ("*" = any). */
  allowedHosts: readonly string[];
  /** http.allowed_origins: "scheme://host[:port]" ("*" = any). */
  allowedOrigins: readonly string[];
  /** Checks a forwarded request's node signature (without remembering its nonce: the node-signature middleware accepts it later). */
  verifier: RpcVerifier;
  /** Largest body read to verify a signature (http.max_body_bytes). */
  maxBodyBytes: number;
  /** Paths whose requests are all signed peer RPC. */
  peerPrefixes?: readonly string[];
  /** Refusals are logged (at most one line a minute: a misconfigured proxy must not flood the log). */
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
  /** For tests: the machine's interface addresses and host name. */
  interfaces?: () => string[];
  machineName?: string;
  /** The node's name list, when the node shares it (with the signature check of core/http/rpc-receiver.ts); else one of its own. */
  hosts?: HostAllowList;
}

/** What the name list is made of. */
export type HostNames = Pick<BrowserGuardOptions, "bind" | "advertise" | "allowedHosts" | "interfaces" | "machineName">;

export interface Refusal {
  status: 400 | 403 | 421;
  code: "INVALID_HOST" | "HOST_NOT_ALLOWED" | "CROSS_SITE_REQUEST";
  message: string;
}

/**
 * A Host header's syntax: a name or IPv4 address, or a bracketed IPv6
 * literal, and an optional port (RFC 9110 uri-host [":" port], the forms
 * clients send). Anything else (userinfo `a:1@b`, a path, a query) is
 * refused before hostOf reads it: `localhost:1@evil` passed the allow-list
 * as "localhost" while the runtime built the request URL with host "evil",
 * and handlers parsing that URL failed with a 500.
 */
const HOST_SYNTAX = /^(?:\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::[0-9]{0,5})?$/i;

export function validHostHeader(host: string): boolean {
  return HOST_SYNTAX.test(host.trim());
}

const WILDCARD_BINDS = new Set(["0.0.0.0", "::", "[::]", ""]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The host part of a Host header or URL authority, lower case, IPv6 without brackets, no trailing dot. */
export function hostOf(authority: string): string {
  let h = authority.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    h = end > 0 ? h.slice(1, end) : h;
  } else {
    const colon = h.lastIndexOf(":");
    // one colon: host:port; more: a bare IPv6 address (not valid in Host, but harmless)
    if (colon >= 0 && h.indexOf(":") === colon) h = h.slice(0, colon);
  }
  return h.replace(/\.$/, "");
}

function machineAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address.replace(/%.*$/, "").toLowerCase());
  return out;
}

/** The names this node answers to; re-lists interfaces on a miss (at most once a second) when bound to a wildcard. */
export class HostAllowList {
  private names = new Set<string>();
  private readonly any: boolean;
  private readonly wildcard: boolean;
  private listedAt = 0;

  constructor(private readonly o: HostNames) {
    this.any = o.allowedHosts.includes("*");
    this.wildcard = WILDCARD_BINDS.has(o.bind);
    this.refresh();
  }

  private refresh(): void {
    const o = this.o;
    // The bind address itself even when a wildcard: the node calls its own API at http://<bind>:<port> (host.apiUrl).
    const names = ["localhost", "127.0.0.1", "::1", o.bind, o.machineName ?? osHostname(), ...o.allowedHosts];
    if (o.advertise) names.push(o.advertise);
    if (this.wildcard) names.push(...(o.interfaces ?? machineAddresses)());
    this.names = new Set(names.map(hostOf).filter((n) => n !== "" && n !== "*"));
    this.listedAt = Date.now();
  }

  allows(hostHeader: string | null): boolean {
    if (this.any || hostHeader === null) return true; // HTTP/1.0 clients send none; browsers always do
    return this.isOwnName(hostOf(hostHeader));
  }

  /**
   * Whether a host (hostOf's form) is one of this node's names, `*` in
   * http.allowed_hosts not counted: a signed request must name this very
   * node (core/http/rpc-receiver.ts), whatever browsers are allowed.
   */
  isOwnName(h: string): boolean {
    if (this.names.has(h) || h.endsWith(".localhost")) return true;
    if (this.wildcard && Date.now() - this.listedAt > 1000) {
      this.refresh();
      return this.names.has(h);
    }
    return false;
  }
}

/** Normalized "scheme://host:port" of an origin, or "" when it does not parse ("null" from sandboxed frames and files). */
function normalOrigin(origin: string): string {
  try {
    const u = new URL(origin);
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin.toLowerCase() : "";
  } catch {
    return "";
  }
}

/**
 * The cross-site decision for a state-changing request (pure). Same origin:
 * the Origin's authority is the request's Host (already allow-listed).
 */
export function crossSiteRefusal(
  method: string, origin: string | null, fetchSite: string | null, host: string | null, allowedOrigins: ReadonlySet<string>, upgrade = false,
): Refusal | undefined {
  if (SAFE_METHODS.has(method) && !upgrade) return undefined;
  if (origin !== null) {
    if (allowedOrigins.has("*")) return undefined;
    const o = normalOrigin(origin);
    if (o && host !== null && sameAuthority(o, host)) return undefined;
    if (o && allowedOrigins.has(o)) return undefined;
    return {
      status: 403, code: "CROSS_SITE_REQUEST",
      message: `cross-site request refused: Origin ${JSON.stringify(origin.slice(0, 200))} is not this node's; if a page there may change this node's state, list it in http.allowed_origins`,
    };
  }
  const site = fetchSite?.trim().toLowerCase();
  if (site === "cross-site" || site === "same-site") {
    return {
      status: 403, code: "CROSS_SITE_REQUEST",
      message: `cross-site request refused (Sec-Fetch-Site: ${site}); a page on another site may not change this node's state (see http.allowed_origins)`,
    };
  }
  return undefined;
}

/**
 * "http://h:p" vs Host "h:p": the same authority, default ports folded. The
 * scheme is not compared: one port serves one scheme, and behind a proxy that
 * terminates TLS the page's https origin names this node's plain http.
 */
function sameAuthority(origin: string, host: string): boolean {
  try {
    const u = new URL(origin);
    const h = new URL(`${u.protocol}//${host.trim()}`);
    return u.host === h.host;
  } catch {
    return false;
  }
}

export type Guard = (req: Request) => Response | undefined | Promise<Response | undefined>;

/**
 * The refusal, with the headers every other answer gets from
 * core/http/middleware/inert-answers.ts (which these never pass through):
 * the message quotes the caller's Host or Origin.
 */
function reply(r: Refusal): Response {
  return new Response(JSON.stringify({ error: r.message, code: r.code }), {
    status: r.status,
    headers: { "content-type": "application/json", "content-security-policy": "sandbox", "x-content-type-options": "nosniff" },
  });
}

/** The check every request passes before any route: undefined = go on, a Response = the refusal. */
export function browserGuard(o: BrowserGuardOptions): Guard {
  const hosts = o.hosts ?? new HostAllowList(o);
  const origins = new Set(o.allowedOrigins.map((s) => (s === "*" ? s : normalOrigin(s) || s.toLowerCase())));
  const peer = o.peerPrefixes ?? ["/v1/raft/", "/v1/cluster/"];
  let loggedAt = 0;
  let quiet = 0;
  const refuse = (r: Refusal, req: Request): Response => {
    const now = Date.now();
    if (o.log && now - loggedAt >= 60_000) {
      o.log.warn("refused a browser-unsafe request", { code: r.code, method: req.method, host: req.headers.get("host")?.slice(0, 200), origin: req.headers.get("origin")?.slice(0, 200), alsoRefusedSinceLastLine: quiet, hint: r.code === "HOST_NOT_ALLOWED" ? "http.allowed_hosts" : "http.allowed_origins" });
      loggedAt = now;
      quiet = 0;
    } else quiet++;
    return reply(r);
  };
  return (req) => {
    const h = req.headers;
    const host = h.get("host");
    let refusal: Refusal | undefined;
    if (host !== null && !validHostHeader(host)) {
      // Not a browser (they send valid names): no signature or peer path makes it one.
      return reply({ status: 400, code: "INVALID_HOST", message: `Host ${JSON.stringify(host.slice(0, 200))} is not a host name or address with an optional port` });
    }
    if (!hosts.allows(host)) {
      refusal = {
        status: 421, code: "HOST_NOT_ALLOWED",
        message: `Host ${JSON.stringify((host ?? "").slice(0, 200))} is not a name of this node (DNS rebinding protection); if clients reach it by that name, add it to http.allowed_hosts`,
      };
    } else refusal = crossSiteRefusal(req.method, h.get("origin"), h.get("sec-fetch-site"), host, origins, isWebSocketUpgrade(req));
    if (!refusal) return undefined;
    const path = pathOf(req.url);
    if (peer.some((p) => path.startsWith(p))) return undefined; // cluster-auth answers 401 without a signature
    const sig = h.get(SIGNATURE_HEADER);
    if (!sig) return refuse(refusal, req);
    return signedByNode(req, sig, o).then((ok) => (ok ? undefined : refuse(refusal, req)));
  };
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** A valid cluster signature (core/acl/node-signature.ts's check); a body (at most maxBodyBytes) is read only once the header's MAC holds. */
async function signedByNode(req: Request, sig: string, o: BrowserGuardOptions): Promise<boolean> {
  const url = new URL(req.url);
  // Header, freshness, MAC first: a forged or stale header costs no body byte (as in cluster-auth).
  const host = req.headers.get("host");
  if (!o.verifier.precheck(sig, req.method, url.pathname + url.search, host).ok) return false;
  let body = new Uint8Array();
  if (req.method !== "GET" && req.method !== "HEAD") {
    const declared = Number(req.headers.get("content-length") ?? NaN);
    if (!(declared >= 0 && declared <= o.maxBodyBytes)) return false;
    body = new Uint8Array(await req.clone().arrayBuffer());
  }
  return o.verifier.matches(sig, req.method, url.pathname + url.search, host, body);
}
