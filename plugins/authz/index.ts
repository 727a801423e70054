// The authz plugin: the management API of authorization — ACL tokens and
// policies (/v1/acl/*), service-to-service intentions (/v1/connect/intentions)
// and the audit log (/v1/audit), in Consul's shapes where Consul has them.
// Enforcement is the core's (core/acl): it reads [plugins.authz] whether or
// not this plugin is enabled, so disabling the API never opens the cluster.
// See docs/acl.md.
import type { PluginHandle, PluginModule } from "../../core/sdk/index.ts";
import { authzConfigSchema, type AuthzConfig } from "./config.ts";
import type { AuthzContext } from "./common.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { policyRoutes } from "./routes/policies.ts";
import { intentionRoutes } from "./routes/intentions.ts";
import { auditRoutes } from "./routes/audit.ts";

export const AUTHZ_VERSION = "0.1.0";

function setup(ctx: AuthzContext): PluginHandle {
  tokenRoutes(ctx);
  policyRoutes(ctx);
  intentionRoutes(ctx);
  auditRoutes(ctx);
  if (ctx.config.enabled && !ctx.forward && !ctx.state.acl.bootstrap()) {
    ctx.log.warn("ACLs are enabled but not bootstrapped: run `corral acl bootstrap` (PUT /v1/acl/bootstrap) once to get a management token");
  }
  return { stop() {} };
}

export const authzPlugin: PluginModule<AuthzConfig> = {
  name: "authz",
  version: AUTHZ_VERSION,
  description: "ACL tokens and policies, service-to-service intentions, audit log (Consul-compatible API)",
  configSchema: authzConfigSchema,
  setup,
};
export default authzPlugin;

export { authzConfigSchema, type AuthzConfig } from "./config.ts";
