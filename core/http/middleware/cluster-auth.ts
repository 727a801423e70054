// Peer and agent RPC (/v1/cluster/*, /v1/raft/*) is signed with the cluster
// secret (core/http/rpc-signature.ts: time, nonce, sending node, receiving
// node, method, path, query, body). This middleware refuses an unsigned, malformed, stale,
// replayed or forged request from its header alone, before reading a byte of
// its body; only then reads the body, capped (a small cap for ordinary RPC, the
// Raft message cap for /v1/raft/), and checks it has the signed hash. An accepted request
// is marked node-signed (core/acl/node-signature.ts isNodeSigned).
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "../../log.ts";
import { ApiError } from "../errors.ts";
import { readCapped } from "../read-capped.ts";
import { bodyHashOf, MAX_SKEW_MS as SKEW_LIMIT_MS, NonceMemory, precheck, SIGNATURE_HEADER, verifySignature, type Accepted, type LegacySignatures, type Receiver, type Refusal } from "../rpc-signature.ts";
import { markNodeSigned } from "../../acl/node-signature.ts";

export { SIGNATURE_HEADER, signRequest, MAX_SKEW_MS, type NodeKey } from "../rpc-signature.ts";

/** How often a clock-skew error may be logged (a stream of stale requests must not flood the log). */
const SKEW_LOG_EVERY_MS = 10_000;

/**
 * One per node process: the secret, the nonces accepted in the window (shared
 * by every route and fast path, so a request accepted anywhere is a replay
 * everywhere on this node), and the clock-skew log.
 */
export class RpcVerifier {
  readonly nonces: NonceMemory;
  private lastSkewLog = 0;

  constructor(private opts: {
    secret: string;
    /**
     * Whether an authority ("host[:port]") is this node's: a signature is
     * accepted only when it names this node (core/http/rpc-receiver.ts
     * ownAuthorities).
     */
    isOurs: (authority: string) => boolean;
    /** cluster.legacy_signatures ("accept"/"send" also accept the previous release's v1 signatures). */
    legacy?: LegacySignatures;
    log?: Logger;
    maxNonces?: number;
    now?: () => number;
  }) {
    this.nonces = new NonceMemory(opts.maxNonces);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The request's Host and this node's names: whom a signature must name. */
  private receiver(host: string | null | undefined): Receiver {
    return { host: host ?? null, isOurs: this.opts.isOurs };
  }

  /** Everything but the body (header, freshness, receiver, nonce, MAC): run it before reading the body. `host`: the request's Host header. */
  precheck(header: string | null | undefined, method: string, pathAndQuery: string, host: string | null | undefined): Accepted | Refusal {
    return this.noted(precheck(this.opts.secret, header, method, pathAndQuery, this.nonces, this.now(), this.receiver(host), this.opts.legacy));
  }

  /** precheck, and the body against the signed hash; remembers the nonce of an accepted request. */
  verify(header: string | null | undefined, method: string, pathAndQuery: string, host: string | null | undefined, body: string | Uint8Array): Accepted | Refusal {
    return this.noted(verifySignature(this.opts.secret, header, method, pathAndQuery, body, this.nonces, this.now(), this.receiver(host), this.opts.legacy));
  }

  /**
   * precheck and the body hash, remembering nothing: for a check that runs
   * before the one that accepts the request (the browser guard), which would
   * otherwise see its own nonce as a replay.
   */
  matches(header: string | null | undefined, method: string, pathAndQuery: string, host: string | null | undefined, body: string | Uint8Array): boolean {
    const pre = precheck(this.opts.secret, header, method, pathAndQuery, this.nonces, this.now(), this.receiver(host), this.opts.legacy);
    if (!pre.ok) return false;
    // v1 carries no body hash: its MAC is the check (a v1 has no nonce to spend anyway).
    if (pre.header.version === 1) return verifySignature(this.opts.secret, header, method, pathAndQuery, body, this.nonces, this.now(), this.receiver(host), this.opts.legacy).ok;
    return bodyHashOf(body) === pre.header.bodyHash;
  }

  private noted<T extends Accepted | Refusal>(r: T): T {
    if (!r.ok && r.code === "SIGNATURE_STALE" && r.skewMs !== undefined) {
      const now = this.now();
      if (now - this.lastSkewLog >= SKEW_LOG_EVERY_MS) {
        this.lastSkewLog = now;
        // The MAC checked out: a holder of the secret (a peer, or a captured
        // old request replayed) signed at a time this far from our clock.
        this.opts.log?.error("refused a signed RPC: clock skew beyond the allowed window; check NTP on both nodes", {
          skewSeconds: Number(((r.skewMs ?? 0) / 1000).toFixed(1)), limitSeconds: SKEW_LIMIT_MS / 1000, node: r.node,
        });
      }
    }
    return r;
  }
}

export function refusalError(r: Refusal): ApiError {
  return new ApiError(r.status, r.code, r.message, r.status === 503 ? { "Retry-After": "1" } : {});
}

export interface ClusterAuthOptions {
  verifier: RpcVerifier;
  prefixes: string[];
  /** Body cap of peer RPC (http.max_body_bytes). */
  maxBodyBytes: number;
  /** Larger caps by path prefix (/v1/raft/: raft.max_message_bytes, a snapshot travels in one message). */
  overrides?: { prefix: string; maxBytes: number }[];
}

/**
 * Reads a peer request's body after its header passed: a signed length over
 * the route's cap is a 413 unread; a body longer than its signed length is
 * a 401 as soon as it passes it (so a captured header makes this node read no
 * more than the genuine body).
 */
async function cappedBody(c: Context, opts: ClusterAuthOptions, signedLength: number | undefined): Promise<Uint8Array> {
  if (c.req.method === "GET" || c.req.method === "HEAD") return new Uint8Array(0);
  const max = opts.overrides?.find((o) => c.req.path.startsWith(o.prefix))?.maxBytes ?? opts.maxBodyBytes;
  if (signedLength !== undefined && signedLength > max) throw new ApiError(413, "BODY_TOO_LARGE", `request body is larger than ${max} bytes`);
  // A v1 signature (legacy mode) announces no length: read up to the route's cap, as the previous release did.
  const body = await readCapped(c.req.raw, signedLength ?? max);
  if (!body) {
    if (signedLength === undefined) throw new ApiError(413, "BODY_TOO_LARGE", `request body is larger than ${max} bytes`);
    throw new ApiError(401, "SIGNATURE_INVALID", "the body is longer than its signature says");
  }
  // Hand the bytes to hono's body cache: the route's validator parses them, nothing reads the stream again.
  const buf = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  (c.req as unknown as { bodyCache: Record<string, Promise<unknown>> }).bodyCache.arrayBuffer = Promise.resolve(buf);
  return body;
}

export function clusterAuth(opts: ClusterAuthOptions): MiddlewareHandler {
  return async function clusterAuthMiddleware(c, next) {
    const path = c.req.path;
    if (!opts.prefixes.some((p) => path.startsWith(p))) return next();
    const header = c.req.header(SIGNATURE_HEADER);
    const url = new URL(c.req.url);
    const host = c.req.header("host");
    const pre = opts.verifier.precheck(header, c.req.method, url.pathname + url.search, host);
    if (!pre.ok) throw refusalError(pre);
    const body = await cappedBody(c, opts, pre.header.length);
    const res = opts.verifier.verify(header, c.req.method, url.pathname + url.search, host, body);
    if (!res.ok) throw refusalError(res);
    markNodeSigned(c, res.header.node);
    return next();
  };
}
