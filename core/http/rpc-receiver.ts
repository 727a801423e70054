// The receiving end of a node signature (core/http/rpc-signature.ts), as
// pure logic: which node a signed request was meant for.
//
// The MAC names the sender, the request and the time; without the receiver
// in it, a request captured on its way to node A could be replayed to node B
// within the ±30 s window, because each node remembers only the nonces it
// accepted itself (a forwarded client write replayed to a follower, a
// propose replayed to another leader). So the sender signs the authority it
// calls (`to=<host:port>`, the URL's host as `new URL(url).host` spells it:
// lower case, IPv6 in brackets, default port left out) and the receiver
// accepts only when
//   1. the request's Host header is that authority (what the client connected
//      to, as far as the client says), and
//   2. that authority is one of this node's: its host part is one of the
//      node's names (the browser guard's Host allow-list, without its "*"),
//      and its port is one of the node's ports (listening or advertised;
//      no port = the scheme's default, so 80 or 443 must be one of them).
// The Host alone is attacker-set; the signed `to` alone could be ours under
// another name. Both together: a signature is good on the node it names.
import { hostOf, validHostHeader } from "./browser-guard.ts";

/** What the receiver knows of a request and of itself, for the check. */
export interface Receiver {
  /** The request's Host header (null when absent). */
  host: string | null;
  /** Whether an authority ("host[:port]") is one of this node's. */
  isOurs: (authority: string) => boolean;
}

/** What a sender puts in `to=`: the authority of the URL it calls. */
export function authorityOf(url: string | URL): string {
  return (typeof url === "string" ? new URL(url) : url).host;
}

/** Host and port compared as URLs spell them: lower case, no trailing dot on the name. */
function normal(authority: string): string {
  return authority.trim().toLowerCase().replace(/\.(?=(:\d*)?$)/, "");
}

/** The port of an authority, or undefined when it names none. */
function portOf(authority: string): number | undefined {
  const a = authority.trim();
  let rest: string;
  if (a.startsWith("[")) rest = a.slice(a.indexOf("]") + 1);
  else {
    const colon = a.indexOf(":");
    if (colon < 0 || colon !== a.lastIndexOf(":")) return undefined;
    rest = a.slice(colon);
  }
  return /^:\d{1,5}$/.test(rest) ? Number(rest.slice(1)) : undefined;
}

/**
 * "Is this authority one of this node's?" from the node's names (the browser
 * guard's HostAllowList.isOwnName) and its ports (read when asked: the
 * listening port is known once the server is up).
 */
export function ownAuthorities(o: { isOwnName: (host: string) => boolean; ports: () => readonly number[] }): (authority: string) => boolean {
  return (authority) => {
    if (!validHostHeader(authority) || !o.isOwnName(hostOf(authority))) return false;
    const ports = o.ports();
    const port = portOf(authority);
    return port === undefined ? ports.includes(80) || ports.includes(443) : ports.includes(port);
  };
}

/** Why a request signed for `to` is not for this node, or undefined when it is. */
export function wrongReceiver(to: string, r: Receiver): string | undefined {
  if (r.host === null || normal(r.host) !== normal(to)) {
    return `this request was signed for ${to}, not for the Host it was sent to (${JSON.stringify((r.host ?? "").slice(0, 200))}): a signature is good only on the node it names`;
  }
  if (!r.isOurs(to)) {
    return `this request was signed for ${to}, which is not this node: if peers reach this node by that name, add it to http.allowed_hosts (a port other than node.http_port belongs in node.advertise)`;
  }
  return undefined;
}
