// Route plumbing of the authz plugin: every route forwards to a leader on
// agents (they hold no tokens), declares its permission, and turns command
// refusals into Consul-style text errors.
import type { RouteConfig } from "@hono/zod-openapi";
import {
  type Command, consulError, type PluginContext, type AppliedProposal,
  type RouteHandler, type RoutePermission, statusForCode,
} from "../../core/sdk/index.ts";
import type { AuthzConfig } from "./config.ts";

export type AuthzContext = PluginContext<AuthzConfig>;

/** Mounts a route an agent hands to a leader (it holds no tokens): a "read" of replicated state, else a "forward". */
export function mount(ctx: AuthzContext, def: RouteConfig, permission: RoutePermission, handler: RouteHandler, stateRead = false): void {
  ctx.route(def, handler, { permission, leader: stateRead ? "read" : "forward" });
}

/** Proposes; a refusal becomes its status with the applier's message. */
export async function write(ctx: AuthzContext, cmd: Command): Promise<AppliedProposal> {
  const out = await ctx.propose(cmd);
  if (!out.result.ok) throw consulError(statusForCode(out.result.code), out.result.message);
  return out;
}

/** Consul answers every /v1/acl/ route this way while ACLs are off. */
export function requireAcls(ctx: AuthzContext): void {
  if (!ctx.config.enabled) throw consulError(401, "ACL support disabled");
}

/** The intention default: the ACL default policy when ACLs are on, allow when they are off. */
export function intentionDefaultAllow(ctx: AuthzContext): boolean {
  return !ctx.config.enabled || ctx.config.default_policy === "allow";
}

/** Consul's "ACL not found", also for an unknown token or policy id (a 403, as Consul answers). */
export const aclNotFound = () => consulError(403, "ACL not found");
