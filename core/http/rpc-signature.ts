// The cluster-secret signature of node-to-node RPC, as pure logic (crypto,
// no I/O): the one place that signs and verifies X-Corral-Signature.
//
//   X-Corral-Signature: t=<ms>,n=<nonce>,node=<sender>,to=<host:port>,l=<body bytes>,b=<sha256(body)>,sig=<hex>
//   sig = HMAC-SHA256(secret, "corral-rpc-v2\n" t "\n" nonce "\n" node "\n" to "\n"
//                             METHOD "\n" path?query "\n" l "\n" sha256(body))
//
// Why each part:
// - t: a captured request is refused once it is more than MAX_SKEW_MS away
//   from the receiver's clock (either way), so replay memory stays bounded;
// - n: a random nonce the receiver remembers until t + MAX_SKEW_MS, so a
//   captured request is refused even inside the window;
// - node: the sender's node id, bound into the MAC so a signature cannot be
//   presented as another node's (audit and logs name the signer);
// - to: the receiver, the authority the sender calls; each node remembers
//   only its own nonces, so without it a request captured on its way to one
//   node could be replayed to another (core/http/rpc-receiver.ts);
// - method, path, query and body: a signature is good for one request only;
// - l, b: the body's length and hash travel in the header too, so the MAC
//   can be checked before the body is read, and the body is read only up to
//   the signed length.
//
// Checking is split in two so that a caller who has not authenticated cannot
// make a node read its body: `precheck` needs only the request line and the
// header (format, freshness, nonce not yet seen, MAC) and runs before the
// body is read; `verifySignature` adds that the body read has the signed
// hash, and remembers the nonce. A forged header therefore costs the node no
// body byte; a captured genuine header (no TLS, within its 30 s) can make it
// read no more than the genuine body's length per try, and the nonce is spent
// only by the complete, matching request.
//
// The previous release's format ("v1") is understood during a rolling
// upgrade only (cluster.legacy_signatures, docs/operations.md "Upgrading"):
//
//   X-Corral-Signature: t=<ms>,sig=HMAC-SHA256(secret, t "\n" METHOD "\n" path?query "\n" sha256(body))
//
// It has no nonce (no replay protection inside the window), names no node,
// and announces no body length, so its MAC can only be checked once the body
// is read (up to the route's cap). Accepted v1 signatures get v2's ±30 s
// window (the previous release allowed 5 minutes).
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { wrongReceiver, type Receiver } from "./rpc-receiver.ts";

export type { Receiver } from "./rpc-receiver.ts";

export const SIGNATURE_HEADER = "X-Corral-Signature";
/** Largest accepted distance between the signer's clock and the receiver's, either way. */
export const MAX_SKEW_MS = 30_000;
/**
 * Nonces remembered at once (about 150 bytes each under Bun, so ~150 MB when full).
 * Each stays ~30 s, so this allows ~33,000 signed requests a second
 * sustained (heartbeats, Raft batches, forwarded client requests), several
 * times what one node serves; beyond it, signed RPC is refused until old
 * ones expire.
 */
export const DEFAULT_MAX_NONCES = 1_000_000;
const DOMAIN = "corral-rpc-v2";

/**
 * cluster.legacy_signatures, the two phases of a rolling upgrade from the
 * release that signed v1:
 * - "send": sign outgoing RPC v1 (old nodes still run), accept v1 and v2;
 * - "accept": sign v2, still accept v1 (nodes still in "send" are understood);
 * - "off": v2 only (the end state, and the default).
 */
export const LEGACY_SIGNATURE_MODES = ["off", "accept", "send"] as const;
export type LegacySignatures = (typeof LEGACY_SIGNATURE_MODES)[number];
/** The signer named by an accepted v1 signature (v1 names none). */
export const LEGACY_SIGNER = "legacy-v1";

/** What a node signs with: the cluster secret, its own node id, and (during an upgrade) the legacy mode. */
export interface NodeKey {
  secret: string;
  node: string;
  /** "send": outgoing RPC is signed in the previous release's v1 format. Absent: "off". */
  legacy?: LegacySignatures;
}

/** Whether a node in this mode accepts v1 signatures. */
export const acceptsV1 = (mode: LegacySignatures | undefined): boolean => mode === "accept" || mode === "send";

export interface SignedHeader {
  /** 1: the previous release's format (no nonce, node, length or body hash in the header). */
  version: 1 | 2;
  t: number;
  nonce: string;
  node: string;
  /** The receiver: the authority (host[:port]) the sender called; "" for v1 (it names none). */
  to: string;
  /** Body length, bytes; undefined for v1 (read the body up to the route's cap). */
  length: number | undefined;
  /** sha256 of the body, hex; "" for v1 (it is inside the MAC only). */
  bodyHash: string;
  sig: string;
}

export type Refusal = {
  ok: false;
  status: 401 | 503;
  code: "SIGNATURE_MISSING" | "SIGNATURE_MALFORMED" | "SIGNATURE_STALE" | "SIGNATURE_REPLAYED" | "SIGNATURE_INVALID" | "SIGNATURE_LEGACY" | "SIGNATURE_WRONG_RECEIVER" | "REPLAY_MEMORY_FULL";
  message: string;
  /** SIGNATURE_STALE: signer's clock minus ours, ms. */
  skewMs?: number;
  /** The node the header names (its MAC checked out for SIGNATURE_STALE and SIGNATURE_REPLAYED). */
  node?: string;
};
export type Accepted = { ok: true; header: SignedHeader };

const HEADER_RE = /^t=(\d{1,16}),n=([0-9a-f]{32}),node=([A-Za-z0-9._:\[\]-]{1,128}),to=([A-Za-z0-9._:\[\]-]{1,261}),l=(\d{1,15}),b=([0-9a-f]{64}),sig=([0-9a-f]{64})$/;
/** A URL authority: a name or address, IPv6 in brackets, an optional port. */
const AUTHORITY_RE = /^[A-Za-z0-9._:\[\]-]{1,261}$/;
const NODE_RE = /^[A-Za-z0-9._:\[\]-]{1,128}$/;
const V1_HEADER_RE = /^t=(\d{1,16}),sig=([0-9a-f]{64})$/;

export function bodyHashOf(body: string | Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

function macV1(secret: string, t: number, method: string, path: string, body: string | Uint8Array): string {
  return createHmac("sha256", secret).update(`${t}\n${method.toUpperCase()}\n${path}\n${bodyHashOf(body)}`).digest("hex");
}

/** The previous release's header value (what a node in legacy mode "send" puts on its RPC). */
export function signRequestV1(secret: string, method: string, path: string, body: string | Uint8Array, now = Date.now()): string {
  if (!secret) throw new Error("signRequest: no cluster secret");
  return `t=${now},sig=${macV1(secret, now, method, path, body)}`;
}

function mac(secret: string, h: Omit<SignedHeader, "sig" | "version">, method: string, path: string): string {
  return createHmac("sha256", secret)
    .update(`${DOMAIN}\n${h.t}\n${h.nonce}\n${h.node}\n${h.to}\n${method.toUpperCase()}\n${path}\n${h.length}\n${h.bodyHash}`)
    .digest("hex");
}

/**
 * Header value for an outgoing RPC. `path` includes the query string; `to`
 * is the authority of the URL called (core/http/rpc-receiver.ts authorityOf).
 * A fresh nonce each call. Every sender calls this, so `key.legacy` alone
 * decides the format a node sends ("send": v1, which names no receiver;
 * otherwise v2).
 */
export function signRequest(
  key: NodeKey, method: string, path: string, body: string | Uint8Array,
  opts: { to: string; now?: number; nonce?: string },
): string {
  if (!key.secret) throw new Error("signRequest: no cluster secret");
  if (key.legacy === "send") return signRequestV1(key.secret, method, path, body, opts.now);
  if (!NODE_RE.test(key.node)) throw new Error(`signRequest: node id ${JSON.stringify(key.node)} is not signable`);
  if (!AUTHORITY_RE.test(opts.to)) throw new Error(`signRequest: receiver ${JSON.stringify(opts.to)} is not a host[:port]`);
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  const h = { t: opts.now ?? Date.now(), nonce: opts.nonce ?? randomBytes(16).toString("hex"), node: key.node, to: opts.to.toLowerCase(), length, bodyHash: bodyHashOf(body) };
  return `t=${h.t},n=${h.nonce},node=${h.node},to=${h.to},l=${h.length},b=${h.bodyHash},sig=${mac(key.secret, h, method, path)}`;
}

export function parseSignatureHeader(header: string | null | undefined): SignedHeader | undefined {
  const m = header ? HEADER_RE.exec(header.trim()) : null;
  return m ? { version: 2, t: Number(m[1]), nonce: m[2]!, node: m[3]!, to: m[4]!, length: Number(m[5]), bodyHash: m[6]!, sig: m[7]! } : undefined;
}

/** A v1 (previous release) header, parsed; undefined for anything else. */
export function parseV1Header(header: string | null | undefined): SignedHeader | undefined {
  const m = header ? V1_HEADER_RE.exec(header.trim()) : null;
  return m ? { version: 1, t: Number(m[1]), nonce: "", node: LEGACY_SIGNER, to: "", length: undefined, bodyHash: "", sig: m[2]! } : undefined;
}

/**
 * Nonces of accepted requests, each kept until its timestamp leaves the
 * skew window (after that the timestamp check alone refuses a replay).
 * Bounded by `max` entries: when full, `remember` says no and the caller
 * refuses (fail closed; only requests with a valid MAC ever get here, so
 * only a holder of the cluster secret can fill it). Nonces are filed by the
 * second they expire in, so a sweep (at most once a second) drops whole
 * seconds and touches only what expired, never the whole memory.
 */
export class NonceMemory {
  private seen = new Map<string, number>();
  private bySecond = new Map<number, string[]>();
  private lastSweep = 0;
  constructor(readonly max = DEFAULT_MAX_NONCES) {}

  has(nonce: string, now: number): boolean {
    const until = this.seen.get(nonce);
    return until !== undefined && until >= now;
  }

  /** False when the memory is full of unexpired nonces. */
  remember(nonce: string, signedAt: number, now: number): boolean {
    if (now - this.lastSweep >= 1000 || this.seen.size >= this.max) this.sweep(now);
    if (this.seen.size >= this.max) return false;
    const until = signedAt + MAX_SKEW_MS;
    this.seen.set(nonce, until);
    const second = Math.floor(until / 1000);
    const list = this.bySecond.get(second);
    if (list) list.push(nonce);
    else this.bySecond.set(second, [nonce]);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    // At most ~61 seconds are filed (signatures are ±30 s from now, kept 30 s).
    for (const [second, list] of this.bySecond) {
      if (second * 1000 + 999 >= now) continue;
      for (const n of list) this.seen.delete(n);
      this.bySecond.delete(second);
    }
  }
}

const refuse = (status: 401 | 503, code: Refusal["code"], message: string, extra: Partial<Refusal> = {}): Refusal => ({ ok: false, status, code, message, ...extra });

/**
 * Everything but the body, before any body byte is read: present,
 * well-formed, the MAC over time, nonce, node, receiver, method, path?query
 * and the announced body length and hash, fresh, meant for this node
 * (`receiver`: the request's Host and this node's names), nonce unseen. Read the body only
 * up to the announced length (`Accepted.header.length`).
 */
export function precheck(
  secret: string, header: string | null | undefined, method: string, path: string, nonces: NonceMemory, now: number,
  receiver: Receiver, legacy: LegacySignatures = "off",
): Accepted | Refusal {
  if (!header) return refuse(401, "SIGNATURE_MISSING", `missing ${SIGNATURE_HEADER} (node RPC is signed with cluster.secret)`);
  const h = parseSignatureHeader(header);
  if (!h) {
    const v1 = parseV1Header(header);
    if (v1 && !acceptsV1(legacy)) {
      return refuse(401, "SIGNATURE_LEGACY", "this is a previous-release (v1) signature, which this node does not accept: the signature format differs, not necessarily the secret; during a rolling upgrade set cluster.legacy_signatures = \"send\" on upgraded nodes (docs/operations.md \"Upgrading\")");
    }
    if (v1) return precheckV1(secret, v1, now);
    return refuse(401, "SIGNATURE_MALFORMED", `malformed ${SIGNATURE_HEADER}: expected t=<ms>,n=<32 hex>,node=<id>,to=<host:port>,l=<bytes>,b=<64 hex>,sig=<64 hex>`);
  }
  // The MAC first: then a stale or replayed refusal is about a request a
  // holder of the secret really signed (a drifting peer clock is worth a log
  // line; a forged header is not).
  const want = Buffer.from(secret ? mac(secret, h, method, path) : "", "hex");
  const got = Buffer.from(h.sig, "hex");
  if (!secret || want.length !== got.length || !timingSafeEqual(want, got)) {
    return refuse(401, "SIGNATURE_INVALID", "invalid cluster signature (check cluster.secret)", { node: h.node });
  }
  const skew = h.t - now;
  if (Math.abs(skew) > MAX_SKEW_MS) {
    return refuse(401, "SIGNATURE_STALE", `signature time is ${(skew / 1000).toFixed(1)} s from this node's clock (limit ±${MAX_SKEW_MS / 1000} s): check the clocks (NTP)`, { skewMs: skew, node: h.node });
  }
  const elsewhere = wrongReceiver(h.to, receiver);
  if (elsewhere) return refuse(401, "SIGNATURE_WRONG_RECEIVER", elsewhere, { node: h.node });
  if (nonces.has(h.nonce, now)) return refuse(401, "SIGNATURE_REPLAYED", "this signed request was already accepted (replay)", { node: h.node });
  return { ok: true, header: h };
}

/**
 * v1 before the body: only the time can be checked (the MAC covers the body
 * hash, which the header does not carry); the MAC is checked by
 * verifySignature once the body is read.
 */
function precheckV1(secret: string, h: SignedHeader, now: number): Accepted | Refusal {
  if (!secret) return refuse(401, "SIGNATURE_INVALID", "invalid cluster signature (check cluster.secret)", { node: h.node });
  const skew = h.t - now;
  if (Math.abs(skew) > MAX_SKEW_MS) {
    // No skewMs: the MAC is unchecked, so this says nothing about a peer's clock.
    return refuse(401, "SIGNATURE_STALE", `signature time is ${(skew / 1000).toFixed(1)} s from this node's clock (limit ±${MAX_SKEW_MS / 1000} s)`, { node: h.node });
  }
  return { ok: true, header: h };
}

/** v1 MAC over time, method, path?query and the body's hash, compared in constant time. */
function verifyV1(secret: string, h: SignedHeader, method: string, path: string, body: string | Uint8Array): boolean {
  const want = Buffer.from(macV1(secret, h.t, method, path, body), "hex");
  const got = Buffer.from(h.sig, "hex");
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The full check: precheck, then the body against the signed hash; an accepted nonce is remembered. */
export function verifySignature(
  secret: string, header: string | null | undefined, method: string, path: string, body: string | Uint8Array,
  nonces: NonceMemory, now: number, receiver: Receiver, legacy: LegacySignatures = "off",
): Accepted | Refusal {
  const pre = precheck(secret, header, method, path, nonces, now, receiver, legacy);
  if (!pre.ok) return pre;
  if (pre.header.version === 1) {
    // No nonce to remember: inside the window a captured v1 request can be replayed (documented).
    return verifyV1(secret, pre.header, method, path, body) ? pre : refuse(401, "SIGNATURE_INVALID", "invalid cluster signature (check cluster.secret)", { node: pre.header.node });
  }
  if (bodyHashOf(body) !== pre.header.bodyHash) {
    return refuse(401, "SIGNATURE_INVALID", "the body does not match its signature", { node: pre.header.node });
  }
  if (!nonces.remember(pre.header.nonce, pre.header.t, now)) return refuse(503, "REPLAY_MEMORY_FULL", "too many signed requests in the replay window; retry shortly");
  return pre;
}
