// ACL enforcement: one middleware, mounted on every route by the route
// table (before the route's input validation, so a refused request learns
// nothing about what it sent), built from the permission the route needs.
//
// Answers, as Consul's: an unknown token → 403 "ACL not found"; a known
// token without the permission → 403 "Permission denied". Text on
// Consul-compatible routes, JSON { error, code } elsewhere. The decision
// depends on the token and the names in the request only, never on whether
// the named thing exists, so a 403 leaks nothing. Lists named in the
// permission table are filtered instead (entries the token may not read are
// dropped; X-Consul-Results-Filtered-By-ACLs: true).
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../http/errors.ts";
import { isConsulPath } from "../http/consul-paths.ts";
import type { RouteEntry } from "../http/routes.ts";
import type { Logger } from "../log.ts";
import type { AclSettings } from "./settings.ts";
import { filterResources } from "./filters.ts";
import { setAnswerHeader } from "../http/answer-header.ts";
import { CLIENT_READ_HEADER, FILTERED_HEADER, NOTHING, setReadScope, type ReadScope } from "./read-scope.ts";
import { isNodeSigned } from "./node-signature.ts";
import { permissionFor } from "./route-permissions.ts";
import { AclUnavailableError, type TokenResolver } from "./resolve.ts";
import { requestToken } from "./secret.ts";
import type { Authorizer, Identity, PermissionSpec, SegmentHelpers, Target } from "./types.ts";

const IDENTITY = "corral.aclIdentity";
const LATE = "corral.aclLateAuthorizer";

/** Checks a token given after the request (PermissionSpec.lateToken): its identity, or a 403/503 ApiError thrown. */
export type LateAuthorizer = (token: string) => Promise<Identity>;

/**
 * The late check of a request the ACL middleware let through without a
 * token (PermissionSpec.lateToken), undefined otherwise (ACLs off, or the
 * token came with the request and was checked then).
 */
export function lateAuthorizer(c: Context): LateAuthorizer | undefined {
  return c.get(LATE as never) as LateAuthorizer | undefined;
}

/** What an undeclared route needs while ACLs are on: fail closed. */
const UNDECLARED: PermissionSpec = { resource: "operator", access: "write" };

export interface EnforceDeps {
  settings: () => AclSettings;
  resolver: () => TokenResolver;
  helpers: SegmentHelpers;
  log: Logger;
}

/** The identity the ACL middleware resolved for this request, if it did. */
export function requestIdentity(c: Context): Identity | undefined {
  return c.get(IDENTITY as never) as Identity | undefined;
}

export function aclError(c: Context, status: 403 | 503, code: string, message: string): ApiError {
  return new ApiError(status, code, message, {}, isConsulPath(c.req.path) ? "text" : "json");
}

/** The request's identity; throws 403 ACL not found for an unknown token. */
export async function identify(c: Context, resolver: TokenResolver): Promise<Identity> {
  const token = requestToken(c.req.url, (n) => c.req.header(n));
  let id: Identity | undefined;
  try {
    id = await resolver.resolve(token);
  } catch (err) {
    if (err instanceof AclUnavailableError) throw aclError(c, 503, "ACL_UNAVAILABLE", err.message);
    throw err;
  }
  if (!id) throw aclError(c, 403, "ACL_NOT_FOUND", "ACL not found");
  c.set(IDENTITY as never, id as never);
  return id;
}

/** The route-table hook: the ACL middleware of one route. */
export function routeAuthorizer(deps: EnforceDeps): (entry: RouteEntry, all: readonly RouteEntry[]) => MiddlewareHandler {
  const warned = new Set<string>();
  return (entry, all) => {
    const perm = permissionFor(entry, all);
    const name = `${entry.route.method.toUpperCase()} ${entry.route.path}`;
    return async function aclMiddleware(c, next) {
      if (!deps.settings().enabled || perm === "none" || perm === "peer") return next();
      // A client's read an agent passed on (CLIENT_READ_HEADER) is authorized here again, like a
      // direct one: this node holds the state and the current tokens. Other signed requests (a
      // client's write, a node's own call) were authorized by the node that signed them.
      if (isNodeSigned(c) && c.req.header(CLIENT_READ_HEADER) === undefined) {
        const own = await ownCallScope(c, deps.resolver());
        await next();
        if (own?.partial) setAnswerHeader(c, FILTERED_HEADER, "true");
        return;
      }
      const spec0 = perm === "authenticated" ? undefined : perm ?? UNDECLARED;
      if (spec0?.lateToken?.(c) && requestToken(c.req.url, (n) => c.req.header(n)) === "") {
        // The same check as below, run when the handler has the token (before it starts anything).
        c.set(LATE as never, (async (token: string) => {
          let id: Identity | undefined;
          try {
            id = await deps.resolver().resolve(token);
          } catch (err) {
            if (err instanceof AclUnavailableError) throw aclError(c, 503, "ACL_UNAVAILABLE", err.message);
            throw err;
          }
          if (!id) throw aclError(c, 403, "ACL_NOT_FOUND", "ACL not found");
          for (const { resource, segment } of await targetsOf(c, spec0, deps)) {
            if (!id.authz.allowed(resource, segment, spec0.access)) throw aclError(c, 403, "PERMISSION_DENIED", "Permission denied");
          }
          c.set(IDENTITY as never, id as never);
          return id;
        }) as LateAuthorizer as never);
        return next();
      }
      const identity = await identify(c, deps.resolver());
      // Handlers filter what they read through this scope (core/acl/read-scope.ts).
      const scope = setReadScope(c, identity.authz);
      if (perm === "authenticated") return next();
      if (!perm && !warned.has(name)) {
        warned.add(name);
        deps.log.warn("route declares no permission: it needs operator:write until it does (core/acl/route-permissions.ts)", { route: name, owner: entry.owner });
      }
      const spec = perm ?? UNDECLARED;
      if (spec.filter && (!spec.filterWhen || spec.filterWhen(c))) {
        await next();
        await filterAnswer(c, spec, scope);
        return;
      }
      const targets = await targetsOf(c, spec, deps);
      const subtree = spec.subtree?.(c) ?? false;
      for (const { resource, segment } of targets) {
        const ok = subtree ? identity.authz.allowedUnder(resource, segment, spec.access) : identity.authz.allowed(resource, segment, spec.access);
        if (!ok) throw aclError(c, 403, "PERMISSION_DENIED", "Permission denied");
      }
      await next();
      // A composite answer (a node's services, its checks, its allocations) whose parts the token's rules could hide.
      if (scope.partial) setAnswerHeader(c, FILTERED_HEADER, "true");
    };
  };
}

/** What a request names, by the route's spec. */
async function targetsOf(c: Context, spec: PermissionSpec, deps: EnforceDeps): Promise<Target[]> {
  try {
    const t = spec.target ? await spec.target(c, deps.helpers) : { resource: spec.resource, segment: spec.segment ? await spec.segment(c, deps.helpers) : "" };
    return Array.isArray(t) ? t : [t];
  } catch (err) {
    // An agent that cannot get a fact from a leader refuses rather than guesses.
    if (err instanceof AclUnavailableError) throw aclError(c, 503, "ACL_UNAVAILABLE", err.message);
    throw err;
  }
}

/**
 * A signed request that is not a client's read: a client's write an agent
 * authorized, or a node's own call (an agent reading its allocations), which
 * sees everything. Should one name a token, its answer is cut to that token.
 */
async function ownCallScope(c: Context, resolver: TokenResolver): Promise<ReadScope | undefined> {
  const token = requestToken(c.req.url, (n) => c.req.header(n));
  if (!token) return undefined;
  try {
    const id = await resolver.resolve(token);
    return setReadScope(c, id ? id.authz : NOTHING);
  } catch {
    return setReadScope(c, NOTHING);
  }
}

/**
 * A list route's answer. Handlers filter at the source through the read
 * scope, so `?filter=`, 404s, counts and indexes see only what the token may
 * read. What a handler did not filter itself (an agent passing on the
 * leader's answer) is filtered here, after the fact, by the route's declared
 * ListFilter. Either way the header says whether the token's rules could hide
 * entries, never whether some were: that would answer questions about them.
 */
async function filterAnswer(c: Context, spec: PermissionSpec, scope: ReadScope): Promise<void> {
  const resources = filterResources(spec.filter!) ?? [spec.resource];
  const partial = scope.used ? scope.partial : !resources.every((r) => scope.authz.readsAll(r));
  const res = c.res;
  if (partial) setAnswerHeader(c, FILTERED_HEADER, "true");
  if (scope.used || !partial || res.status !== 200 || !(res.headers.get("content-type") ?? "").includes("json")) return;
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return;
  }
  const out = spec.filter!(body, scope.authz);
  const headers = new Headers(c.res.headers);
  headers.delete("content-length");
  c.res = undefined as never; // replace, do not merge the old headers back in (hono merges on assignment)
  c.res = new Response(JSON.stringify(out.body), { status: res.status, headers });
}
