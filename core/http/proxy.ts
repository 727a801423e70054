// Passing a client's request on to another node as is: method, path, query,
// headers (minus hop-by-hop ones) and body; the answer comes back unchanged
// (streamed). Used by agents (to a leader) and by followers (to the leader).
import { signRequest, SIGNATURE_HEADER, type NodeKey } from "./rpc-signature.ts";
import { authorityOf } from "./rpc-receiver.ts";

export const FORWARDED_HEADER = "X-Corral-Forwarded";

/** Hop-by-hop headers a proxy must not pass on (RFC 9110 §7.6.1), plus ones fetch sets itself. */
const HOP_HEADERS = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host", "content-length"];

/**
 * `signWith`: this node's key (cluster secret and node id). The request is then
 * signed as node RPC is (X-Corral-Signature over time, nonce, this node,
 * the node at `baseUrl`, method, path, query and body; core/http/rpc-signature.ts): the receiving node
 * knows this node already authorized it (core/acl/node-signature.ts).
 */
export async function proxyRequest(
  baseUrl: string, req: Request, body?: ArrayBuffer, signWith?: NodeKey,
  /** The peer fetch (TLS trust, core/http/tls.ts). */
  fetchFn: (url: string, init?: RequestInit) => Promise<Response> = fetch,
  /**
   * How many nodes passed the request on, this one included (the
   * X-Corral-Forwarded value). The receiver trusts it only on a signed
   * request (core/http/peer-forwarding.ts), which bounds forwarding loops.
   */
  hops = 1,
): Promise<Response> {
  const url = new URL(req.url);
  const headers = new Headers(req.headers);
  for (const h of HOP_HEADERS) headers.delete(h);
  headers.set(FORWARDED_HEADER, String(hops));
  // A HEAD's answer has no body to decode: ask for the plain one, whose Content-Length (kept below)
  // is what this node's GET sends, decoded (without it Bun would say 0: core/http/head-answer.ts).
  const head = req.method === "HEAD";
  if (head) headers.set("accept-encoding", "identity");
  const payload = req.method === "GET" || req.method === "HEAD" ? undefined : (body ?? (await req.arrayBuffer()));
  // Signed for the node called, or not at all: a signature this node was
  // given names this node (core/http/rpc-receiver.ts) and is not passed on.
  if (signWith) headers.set(SIGNATURE_HEADER, signRequest(signWith, req.method, url.pathname + url.search, new Uint8Array(payload ?? new ArrayBuffer(0)), { to: authorityOf(baseUrl) }));
  else headers.delete(SIGNATURE_HEADER);
  const res = await fetchFn(baseUrl + url.pathname + url.search, { method: req.method, headers, body: payload, signal: req.signal, redirect: "manual" });
  // fetch already decoded the body: drop headers that describe the wire form.
  const out = new Headers(res.headers);
  if (!head || out.has("content-encoding")) out.delete("content-length");
  out.delete("content-encoding");
  out.delete("transfer-encoding");
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
}
