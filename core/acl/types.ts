// The vocabulary of ACLs: resources, access levels, and what a route
// declares it needs. Pure types; no I/O.
import type { Context } from "hono";

/** An access level a rule grants. "write" implies "read"; "deny" refuses both. */
export type Access = "read" | "write" | "deny";

/** What a request asks for. */
export type Want = "read" | "write";

/**
 * Resources a rule can name. Segmented ones take a name ("kv" takes a key,
 * "service" a service name) and have exact and prefix rules; `acl` and
 * `operator` are one switch each. `intention` has no rule of its own: it is
 * derived from service rules, as in Consul (see rules.ts).
 */
export const SEGMENTED = ["agent", "event", "job", "key", "node", "plugin", "query", "service", "session", "intention", "variable", "alloc_exec"] as const;
export const UNSEGMENTED = ["acl", "operator", "keyring", "mesh", "peering"] as const;
export type SegmentedResource = (typeof SEGMENTED)[number];
export type UnsegmentedResource = (typeof UNSEGMENTED)[number];
export type Resource = SegmentedResource | UnsegmentedResource;

export function isSegmented(r: Resource): r is SegmentedResource {
  return (SEGMENTED as readonly string[]).includes(r);
}

/** Answers "may this identity do `want` on `resource` named `segment`?". */
export interface Authorizer {
  allowed(resource: Resource, segment: string, want: Want): boolean;
  /** `allowed` on `prefix` and on every name below it (a recursive delete: Consul's KeyWritePrefix). */
  allowedUnder(resource: Resource, prefix: string, want: Want): boolean;
  /** True when every segment of `resource` is readable (lets list filters skip work). */
  readsAll(resource: Resource): boolean;
  /**
   * What it grants, as a fingerprint (core/acl/grant-key.ts): authorizers with the same key decide
   * every question alike, so an answer cut to one may be served to the other. Absent: share nothing.
   */
  readonly key?: string;
}

/**
 * Helpers a segment function may use. Leader-role nodes answer from their
 * state; agents ask a leader for the same answer (core/acl/facts.ts), so
 * the decision is the same wherever the request lands.
 */
export interface SegmentHelpers {
  /** A node's name from its id or name (rules name nodes by name); the input when no node has it. */
  nodeName(idOrName: string): string | Promise<string>;
  /** The job an allocation (id or unique prefix) or evaluation belongs to ("" when unknown). */
  jobOfAlloc(id: string): string | Promise<string>;
  jobOfEval(id: string): string | Promise<string>;
  /** The job a deployment (id or unique prefix) belongs to ("" when unknown). */
  jobOfDeployment(id: string): string | Promise<string>;
  /** The destination of the intention with this id ("" when unknown). */
  intentionDestination(id: string): string | Promise<string>;
  /** The node a session belongs to, by session id ("" when unknown): session rules name nodes. */
  sessionNode(id: string): string | Promise<string>;
  /** Who owns the services and checks of a catalog node (by name, case-insensitive): ownership checks of catalog writes. */
  catalogOwners(node: string): Promise<{ services: Record<string, string>; checks: Record<string, string> }>;
  /** This node's name (agent:* rules). */
  selfName: string;
}

export type Target = { resource: Resource; segment: string };

/** Drops the entries of a JSON answer the identity may not read; returns how many it dropped. */
export type ListFilter = (body: unknown, authz: Authorizer) => { body: unknown; dropped: number };

export interface PermissionSpec {
  resource: Resource;
  access: Want;
  /** The rule segment the request names (a key, a service name). Default "". */
  segment?: (c: Context, h: SegmentHelpers) => string | Promise<string>;
  /**
   * A list answer: no 403; entries the token may not read are dropped from
   * the answer instead (Consul filters lists). `filterWhen` limits this to
   * some requests (KV: only ?recurse or ?keys); otherwise the segment check applies.
   */
  filter?: ListFilter;
  filterWhen?: (c: Context) => boolean;
  /**
   * When the resource itself depends on the request (a check belongs to a
   * service, or to the node): returns both; overrides `resource` and `segment`.
   * A list: the request changes several things (a registration that replaces
   * an existing instance, checks of other services): every one must be allowed.
   */
  target?: (c: Context, h: SegmentHelpers) => Target | Target[] | Promise<Target | Target[]>;
  /** The request touches everything under the segment (DELETE ?recurse): check the whole subtree. */
  subtree?: (c: Context) => boolean;
  /**
   * The request carries no token because it will send one later (Nomad's
   * WebSocket `ws_handshake`: the token in the first frame, as browsers set
   * no header on a WebSocket). Then the middleware lets it through with a
   * late check (core/acl/enforce.ts lateAuthorizer) the handler must pass,
   * with the token it got, before it starts anything.
   */
  lateToken?: (c: Context) => boolean;
}

/**
 * What a route needs:
 * - a PermissionSpec: a token whose rules allow it;
 * - "authenticated": any known token (GET /v1/acl/token/self);
 * - "none": nothing (only /v1/healthz and PUT /v1/acl/bootstrap);
 * - "peer": signed cluster RPC, checked by the cluster-auth middleware.
 */
export type RoutePermission = PermissionSpec | "authenticated" | "none" | "peer";

/** Who a request is, once its token is resolved. */
export interface Identity {
  accessorId: string;
  description: string;
  /** Services this token speaks for (intentions identify callers by these). */
  serviceIdentities: string[];
  anonymous: boolean;
  authz: Authorizer;
  /** A task's workload identity: the namespace of its job, the only one whose variables it reads (core/api/variables.ts). */
  workloadNamespace?: string;
}

export const ANONYMOUS_ACCESSOR = "00000000-0000-0000-0000-000000000002";
export const MANAGEMENT_POLICY_ID = "00000000-0000-0000-0000-000000000001";
export const MANAGEMENT_POLICY_NAME = "global-management";
