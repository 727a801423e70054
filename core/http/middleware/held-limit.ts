// Fair shares of the requests a node holds open (docs/security.md, "Fair
// limits"): endless responses (event streams, log follows) and blocking
// queries. Each ACL token and each client address may hold only so many of
// each kind at once; one more is refused with 429 naming the limit. A
// node-wide cap alone (http.max_event_streams) let one token's 64 streams
// make everybody's /v1/events 429; per-token and per-address caps below it
// mean one client holding its maximum leaves room for the others (Consul's
// limits.http_max_conns_per_client is per address).
//
// One middleware in front of every route: a request is classified by its
// shape (the same rule the fuzzer uses for "may outlive the client"), so a
// plugin's blocking route or log follow is counted without doing anything.
// Exempt: requests another node signed and passed on (that node counted
// them for its client) and plugin traffic proxied under /v1/invoke/.
import type { MiddlewareHandler } from "hono";
import { createHash } from "node:crypto";
import { ApiError } from "../errors.ts";
import { isConsulPath } from "../consul-paths.ts";
import { remoteAddress } from "../remote-addr.ts";
import { requestToken } from "../../acl/secret.ts";
import { isNodeSigned } from "../../acl/node-signature.ts";

export type HeldKind = "stream" | "blocking";

/**
 * Which kind of held request this is, from its method, the path as the
 * router matches it (percent-decoded: hono's c.req.path) and its query
 * (pure). Not the URL's raw pathname: `/v1/even%74s` is routed to the event
 * stream, and was counted as nothing.
 */
export function heldKind(method: string, routedPath: string, query: URLSearchParams): HeldKind | undefined {
  // A waiting acquire (`PUT /v1/kv/<key>?acquire=<s>&wait=<d>`, core/api/lock-waits.ts) is held like a blocking read.
  if (method === "PUT") return routedPath.startsWith("/v1/kv/") && query.has("acquire") && query.has("wait") ? "blocking" : undefined;
  if (method !== "GET" && method !== "HEAD") return undefined;
  if (routedPath.startsWith("/v1/invoke/")) return undefined;
  if (routedPath === "/v1/events" || query.get("follow") === "true") return "stream";
  const index = query.get("index");
  if (index !== null && /^\d+$/.test(index) && Number(index) > 0) return "blocking";
  return undefined;
}

/** Counts held slots per key; refuses past a cap (pure, no I/O). */
export class SlotCounter {
  private held = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a slot for key; false when key already holds max (a max of 0 means no limit). */
  take(key: string): boolean {
    const n = this.held.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.held.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.held.get(key) ?? 0) - 1;
    if (n <= 0) this.held.delete(key);
    else this.held.set(key, n);
  }

  count(key: string): number {
    return this.held.get(key) ?? 0;
  }
}

export interface HeldLimitOptions {
  streamsPerToken: number;
  streamsPerAddress: number;
  blockingPerToken: number;
  blockingPerAddress: number;
}

interface KindLimits {
  byToken: SlotCounter;
  byAddress: SlotCounter;
  code: string;
  what: string;
  tokenKey: string;
  addressKey: string;
}

/**
 * The node's held-request slots, per kind, token and address: the
 * middleware below takes them for every route, and a fast path that holds a
 * request (core/api/kv-read-fast.ts) takes them here too, so the two share
 * one budget.
 */
export class HeldSlots {
  private kinds: Record<HeldKind, KindLimits>;

  constructor(opts: HeldLimitOptions) {
    this.kinds = {
      stream: {
        byToken: new SlotCounter(opts.streamsPerToken), byAddress: new SlotCounter(opts.streamsPerAddress),
        code: "TOO_MANY_STREAMS", what: "event streams and log follows",
        tokenKey: "http.max_streams_per_token", addressKey: "http.max_streams_per_address",
      },
      blocking: {
        byToken: new SlotCounter(opts.blockingPerToken), byAddress: new SlotCounter(opts.blockingPerAddress),
        code: "TOO_MANY_BLOCKING_QUERIES", what: "blocking queries",
        tokenKey: "http.max_blocking_per_token", addressKey: "http.max_blocking_per_address",
      },
    };
  }

  /**
   * Takes a slot of `kind` for this token ("" for none: the address cap
   * alone) and address; throws the 429 (text on Consul's paths) when either
   * holds its cap. Returns the slot's release (idempotent).
   */
  hold(kind: HeldKind, token: string, address: string, path: string): () => void {
    const k = this.kinds[kind];
    const tokenKey = token ? createHash("sha256").update(token).digest("hex") : "";
    if (tokenKey && !k.byToken.take(tokenKey)) refuse(path, k, `this token holds ${k.byToken.max} ${k.what} on this node (${k.tokenKey})`);
    if (address && !k.byAddress.take(address)) {
      if (tokenKey) k.byToken.release(tokenKey);
      refuse(path, k, `this address holds ${k.byAddress.max} ${k.what} on this node (${k.addressKey})`);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (tokenKey) k.byToken.release(tokenKey);
      if (address) k.byAddress.release(address);
    };
  }
}

/** The middleware; `slots` shared with the fast paths that hold requests (one budget). */
export function heldLimit(opts: HeldLimitOptions, slots: HeldSlots = new HeldSlots(opts)): MiddlewareHandler {
  return async function heldLimitMiddleware(c, next) {
    // Only GET/HEAD (and a PUT with a query: a waiting acquire) can be held: skip the URL parse for every other write.
    const m = c.req.method;
    const kind = m === "GET" || m === "HEAD" || (m === "PUT" && c.req.url.includes("?")) ? heldKind(m, c.req.path, new URL(c.req.url).searchParams) : undefined;
    if (!kind || isNodeSigned(c)) return next();
    // No token: the address cap alone (every tokenless client would otherwise share one budget).
    const release = slots.hold(kind, requestToken(c.req.url, (n) => c.req.header(n)), remoteAddress(c), c.req.path);
    try {
      await next();
    } catch (err) {
      release();
      throw err;
    }
    const body = c.res.body;
    // A blocking query waited inside the handler; a stream is held until its body ends or the client leaves.
    if (kind === "blocking" || !body || !c.res.ok) return release();
    c.req.raw.signal?.addEventListener("abort", release, { once: true });
    c.res = new Response(releasingBody(body, release), c.res);
  };
}

function refuse(path: string, k: KindLimits, message: string): never {
  // Consul answers its own routes' connection limit in text; ours answer JSON { error, code }.
  throw new ApiError(429, k.code, `${message}; close one or retry later`, { "Retry-After": "1" }, isConsulPath(path) ? "text" : "json");
}

/** The same bytes; calls release once when the body ends, fails or is cancelled. */
function releasingBody(body: ReadableStream<Uint8Array>, release: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          ctl.close();
        } else ctl.enqueue(value);
      } catch (err) {
        release();
        ctl.error(err);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
}
