// A WebSocket from this node to another node's API, its handshake signed
// with the cluster secret (v2: a fresh nonce, the receiver named) like every
// request one node passes to another (core/http/rpc-signature.ts). The
// receiving node's node-signature middleware marks it signed, so it is taken
// as authorized by this node; a client without the secret cannot make one.
// Used to relay a client's `alloc exec` session to the node running the
// allocation (plugins/exec/exec-ws.ts).
import type { NodeKey } from "./middleware/cluster-auth.ts";
import { authorityOf } from "./rpc-receiver.ts";
import { SIGNATURE_HEADER, signRequest } from "./rpc-signature.ts";
import type { PeerHttp } from "./tls.ts";

export function peerWebSocket(peer: PeerHttp, key: NodeKey, address: string, pathAndQuery: string, headers: Record<string, string> = {}): WebSocket {
  const url = `${peer.scheme === "https" ? "wss" : "ws"}://${address}${pathAndQuery}`;
  // A GET handshake has no body: the signature covers method, path and query, receiver and time.
  const signature = signRequest(key, "GET", pathAndQuery, "", { to: authorityOf(url) });
  // Bun's WebSocket takes headers (and tls, as its fetch) in its second argument.
  return new WebSocket(url, { headers: { ...headers, [SIGNATURE_HEADER]: signature }, ...(peer.tls ? { tls: peer.tls } : {}) } as unknown as string[]);
}
