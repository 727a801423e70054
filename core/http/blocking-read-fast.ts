// What every fast path for a Consul blocking read does around its own read,
// as the route table does it for the route (core/http/routes.ts): the
// held-request slot (before the read gate, one budget with the held-limit
// middleware), the read gate's wait on the leader unless `?stale`, `?dc`,
// the blocking parameters; and the X-Consul-* headers of its answer. Shared
// by the KV key read (core/api/kv-read-fast.ts) and the cached catalog and
// health reads (cached-read-fast.ts), so the two cannot drift apart.
import { assertDatacenter, blockingParamsOf, type BlockingParams } from "./consul.ts";
import { heldKind, type HeldSlots } from "./middleware/held-limit.ts";
import { remoteOf } from "./remote-addr.ts";
import { requestToken } from "../acl/secret.ts";
import type { ReplicationStatus } from "../state/replicator.ts";

export interface BlockingReadEntry {
  req: Request;
  /** The server's env (the client's address). */
  env: unknown;
  query: URLSearchParams;
  /** The routed path (the held slot is counted per path's kind). */
  path: string;
  stale: boolean;
  datacenter: string;
  held?: HeldSlots;
  leaderRead?: (consistent: boolean, path: string) => Promise<void>;
  /** false: a node-signed request, which holds no client's slot (as through the route). */
  holdsSlot?: boolean;
}

/**
 * Takes the slot, waits at the read gate, checks `?dc` and parses the
 * blocking parameters. `release` gives the slot back: call it once the
 * answer is built (it is already given back if this throws).
 */
export async function enterBlockingRead(e: BlockingReadEntry): Promise<{ params: BlockingParams; release: () => void }> {
  const slot = e.holdsSlot !== false && heldKind("GET", e.path, e.query) === "blocking"
    ? e.held?.hold("blocking", requestToken(e.req.url, (n) => e.req.headers.get(n) ?? undefined), remoteOf(e.req, e.env), e.path)
    : undefined;
  const release = () => slot?.();
  try {
    if (!e.stale) {
      if (!e.leaderRead) throw new Error(`a blocking read fast path without the read gate: ${e.path}`);
      await e.leaderRead(e.query.has("consistent"), e.path);
    }
    assertDatacenter(e.query.get("dc"), e.datacenter);
    return { params: blockingParamsOf(e.query), release };
  } catch (err) {
    release();
    throw err;
  }
}

/** The X-Consul-* headers of a blocking read's answer, and X-Corral-Index of the state the request arrived at. */
export function blockingReadHeaders(index: number, status: ReplicationStatus | undefined, params: BlockingParams, arrived: number): Record<string, string> {
  return {
    "x-consul-index": String(Math.max(1, index)),
    "x-consul-knownleader": String(Boolean(status?.leader)),
    "x-consul-lastcontact": String(Math.max(0, Math.round(status?.lastContactMs ?? 0))),
    "x-consul-effective-consistency": params.consistency === "default" ? "leader" : params.consistency,
    "x-corral-index": String(Math.max(arrived, 0)),
  };
}

/** The only query parameters a blocking-read fast path reads; any other goes to its route. */
const PLAIN = new Set(["index", "wait", "stale", "consistent", "dc"]);

/**
 * The plain query of a request, or undefined when it has anything else, a name twice, or a value
 * longer than `maxValue`. `allowed`: the names a fast path reads (by default a blocking read's).
 */
export function plainQuery(url: string, allowed: ReadonlySet<string> = PLAIN, maxValue = Infinity): URLSearchParams | undefined {
  const at = url.indexOf("?");
  const query = new URLSearchParams(at === -1 ? "" : url.slice(at + 1));
  const seen = new Set<string>();
  for (const [name, value] of query) {
    if (!allowed.has(name) || seen.has(name) || value.length > maxValue) return undefined;
    seen.add(name);
  }
  return query;
}
