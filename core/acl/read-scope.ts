// What a read may show: the request's ACL view of the state, handed from the
// ACL middleware to the handler. A read route filters what it reads *at the
// source*, before anything is derived from it: a `?filter=` expression, a
// 404 for "nothing there", a count, a raw value, an index. Filtering the
// finished answer afterwards (the old way) let those derived bits tell what
// the token may not see: `?recurse&raw` answered a hidden value, `?filter=`
// plus X-Consul-Results-Filtered-By-ACLs answered yes/no questions, `?keys`
// answered 200 or 404 by hidden keys.
//
// Metadata depends on the token only, never on hidden data: `partial` is set
// when the token's rules could hide part of what the request asks for (the
// X-Consul-Results-Filtered-By-ACLs header), whether or not something was
// hidden this time. Pure apart from the request context it is stored in.
import type { Context } from "hono";
import type { Authorizer, Resource } from "./types.ts";

const SCOPE = "corral.readScope";

/** Sees everything: ACLs off, a management token, a request another node vouched for. */
const OPEN: Authorizer = { allowed: () => true, allowedUnder: () => true, readsAll: () => true };

export class ReadScope {
  /** True once the token's rules may have hidden something from this answer. */
  partial = false;
  /** True once the handler filtered through this scope (the middleware's after-the-fact filter is then moot). */
  used = false;

  constructor(readonly authz: Authorizer) {}

  /** Whether the token may read `name` of `resource` (no mark: a single named thing is refused, not hidden). */
  can(resource: Resource, name: string): boolean {
    return this.authz.allowed(resource, name, "read");
  }

  /** True when nothing of `resource` can be hidden from this token. */
  seesAll(resource: Resource): boolean {
    return this.authz.readsAll(resource);
  }

  /** The items of `list` the token may read, each named by `nameOf`; marks the answer partial if rules could hide any. */
  keep<T>(list: readonly T[], resource: Resource, nameOf: (item: T) => string): T[] {
    this.used = true;
    if (this.authz.readsAll(resource)) return [...list];
    this.partial = true;
    return list.filter((item) => this.authz.allowed(resource, nameOf(item), "read"));
  }

  /**
   * As keep, for items that all lie under `prefix` (a KV prefix): when the
   * token reads the whole subtree nothing is hidden and the answer is not partial.
   */
  keepUnder<T>(list: readonly T[], resource: Resource, prefix: string, nameOf: (item: T) => string): T[] {
    this.used = true;
    if (this.authz.allowedUnder(resource, prefix, "read")) return [...list];
    this.partial = true;
    return list.filter((item) => this.authz.allowed(resource, nameOf(item), "read"));
  }

  /** Whether `prefix` and everything below it is readable (no mark). */
  seesAllUnder(resource: Resource, prefix: string): boolean {
    return this.authz.allowedUnder(resource, prefix, "read");
  }

  /** Marks the answer partial: an item was left out (or its part redacted) by a rule. */
  hid(): void {
    this.used = true;
    this.partial = true;
  }
}

/** A scope that sees everything, for a read no ACL acts on (a fast path, taken only while ACLs are off: core/http/cached-read-fast.ts). */
export function openReadScope(): ReadScope {
  return new ReadScope(OPEN);
}

/** Called by the ACL middleware once the token is known. */
export function setReadScope(c: Context, authz: Authorizer): ReadScope {
  const scope = new ReadScope(authz);
  c.set(SCOPE as never, scope as never);
  return scope;
}

/** The request's scope; everything when ACLs did not set one (ACLs off, a node-signed request). */
export function readScope(c: Context): ReadScope {
  const scope = c.get(SCOPE as never) as ReadScope | undefined;
  if (scope) return scope;
  const open = new ReadScope(OPEN);
  c.set(SCOPE as never, open as never);
  return open;
}

/** The scope if the ACL middleware set one (undefined: everything is visible). */
export function aclReadScope(c: Context): ReadScope | undefined {
  const scope = c.get(SCOPE as never) as ReadScope | undefined;
  return scope && scope.authz !== OPEN ? scope : undefined;
}

/** Sees nothing: a forwarded client read whose token this node does not know. */
export const NOTHING: Authorizer = { allowed: () => false, allowedUnder: () => false, readsAll: () => false };

/**
 * Set on a client's read that an agent passes on to a leader (core/node.ts,
 * core/http/leader-forward.ts). The leader then authorizes it as if the client had asked
 * it directly (core/acl/enforce.ts): the client's token, anonymous when it
 * sent none, checked against the leader's state, and the answer cut to it.
 * A node's own reads (an agent watching its allocations) carry no such
 * header and see everything. A client cannot remove it (the agent sets it on
 * every read it passes on) and gains nothing by adding it.
 */
export const CLIENT_READ_HEADER = "X-Corral-Client-Read";

/** The request to pass on for a client's read: marked with CLIENT_READ_HEADER (writes pass unchanged). */
export function asClientRead(req: Request): Request {
  if (req.method !== "GET" && req.method !== "HEAD") return req;
  const headers = new Headers(req.headers);
  headers.set(CLIENT_READ_HEADER, "1");
  return new Request(req.url, { method: req.method, headers, signal: req.signal });
}

/** Consul's header: results may be missing entries the token may not read. */
export const FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs";
