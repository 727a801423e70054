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

/** What a node signs with: the cluster secret and its own node id. */
export interface NodeKey {
  secret: string;
  node: string;
}

export interface SignedHeader {
  t: number;
  nonce: string;
  node: string;
  /** The receiver: the authority (host[:port]) the sender called. */
  to: string;
  /** Body length, bytes. */
  length: number;
  /** sha256 of the body, hex. */
  bodyHash: string;
  sig: string;
}

export type Refusal = {
  ok: false;
  status: 401 | 503;
  code: "SIGNATURE_MISSING" | "SIGNATURE_MALFORMED" | "SIGNATURE_STALE" | "SIGNATURE_REPLAYED" | "SIGNATURE_INVALID" | "SIGNATURE_WRONG_RECEIVER" | "REPLAY_MEMORY_FULL";
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

export function bodyHashOf(body: string | Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

function mac(secret: string, h: Omit<SignedHeader, "sig">, method: string, path: string): string {
  return createHmac("sha256", secret)
    .update(`${DOMAIN}\n${h.t}\n${h.nonce}\n${h.node}\n${h.to}\n${method.toUpperCase()}\n${path}\n${h.length}\n${h.bodyHash}`)
    .digest("hex");
}

/**
 * Header value for an outgoing RPC. `path` includes the query string; `to`
 * is the authority of the URL called (core/http/rpc-receiver.ts authorityOf).
 * A fresh nonce each call.
 */
export function signRequest(
  key: NodeKey, method: string, path: string, body: string | Uint8Array,
  opts: { to: string; now?: number; nonce?: string },
): string {
  if (!key.secret) throw new Error("signRequest: no cluster secret");
  if (!NODE_RE.test(key.node)) throw new Error(`signRequest: node id ${JSON.stringify(key.node)} is not signable`);
  if (!AUTHORITY_RE.test(opts.to)) throw new Error(`signRequest: receiver ${JSON.stringify(opts.to)} is not a host[:port]`);
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  const h = { t: opts.now ?? Date.now(), nonce: opts.nonce ?? randomBytes(16).toString("hex"), node: key.node, to: opts.to.toLowerCase(), length, bodyHash: bodyHashOf(body) };
  return `t=${h.t},n=${h.nonce},node=${h.node},to=${h.to},l=${h.length},b=${h.bodyHash},sig=${mac(key.secret, h, method, path)}`;
}

export function parseSignatureHeader(header: string | null | undefined): SignedHeader | undefined {
  const m = header ? HEADER_RE.exec(header.trim()) : null;
  return m ? { t: Number(m[1]), nonce: m[2]!, node: m[3]!, to: m[4]!, length: Number(m[5]), bodyHash: m[6]!, sig: m[7]! } : undefined;
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
  receiver: Receiver,
): Accepted | Refusal {
  if (!header) return refuse(401, "SIGNATURE_MISSING", `missing ${SIGNATURE_HEADER} (node RPC is signed with cluster.secret)`);
  const h = parseSignatureHeader(header);
  if (!h) return refuse(401, "SIGNATURE_MALFORMED", `malformed ${SIGNATURE_HEADER}: expected t=<ms>,n=<32 hex>,node=<id>,to=<host:port>,l=<bytes>,b=<64 hex>,sig=<64 hex>`);
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

/** The full check: precheck, then the body against the signed hash; an accepted nonce is remembered. */
export function verifySignature(
  secret: string, header: string | null | undefined, method: string, path: string, body: string | Uint8Array,
  nonces: NonceMemory, now: number, receiver: Receiver,
): Accepted | Refusal {
  const pre = precheck(secret, header, method, path, nonces, now, receiver);
  if (!pre.ok) return pre;
  if (bodyHashOf(body) !== pre.header.bodyHash) {
    return refuse(401, "SIGNATURE_INVALID", "the body does not match its signature", { node: pre.header.node });
  }
  if (!nonces.remember(pre.header.nonce, pre.header.t, now)) return refuse(503, "REPLAY_MEMORY_FULL", "too many signed requests in the replay window; retry shortly");
  return pre;
}
