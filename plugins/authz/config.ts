// `[plugins.authz]`: its schema and the settings the core reads from it are
// the core's (core/acl/settings.ts: enforcement must hold while this plugin
// is disabled); the plugin validates its table with the same schema.
export { aclSettings, authzConfigSchema, settingsFromTable } from "../../core/sdk/index.ts";
export type { AclSettings, AuthzConfig } from "../../core/sdk/index.ts";
