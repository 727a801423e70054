// `[plugins.authz]`: ACL enforcement, intentions' default, the audit log.
// Enforcement lives in the core (core/acl) and reads this table even while
// the authz plugin — the management API — is disabled, as the probe table's
// overrides apply without the probe plugin: turning the API off must never
// turn authorization off. So the core owns the table's schema; the authz
// plugin takes it from the SDK (plugins/authz/config.ts).
import { z } from "zod";
import { durationMs } from "../config/duration.ts";
import { intIn } from "../config/schema.ts";

export const authzConfigSchema = z
  .object({
    /** Enforce ACLs on every route. Off by default: a dev node stays open (docs/acl.md). */
    enabled: z.boolean().default(false),
    /** What a token gets for anything no rule names. */
    default_policy: z.enum(["allow", "deny"]).default("deny"),
    /** How long agents cache a token's answer from the leaders. */
    token_ttl: durationMs({ min: 0, max: 3_600_000 }).prefault("30s"),
    /** An agent that cannot reach a leader: keep using cached answers ("extend-cache") or refuse ("deny"). */
    down_policy: z.enum(["extend-cache", "deny"]).default("extend-cache"),
    /** Record every write in the replicated audit log. Unset: on exactly when `enabled` is. */
    audit: z.boolean().optional(),
    /** Audit records kept, newest first. */
    audit_max_records: intIn(100, 10_000_000).default(100_000),
    /** Audit records older than this are dropped. */
    audit_max_age: durationMs({ min: 60_000 }).prefault("720h"),
    /** Audit records are batched into one log entry this often (and when 500 are waiting). */
    audit_flush_interval: durationMs({ min: 10, max: 60_000 }).prefault("1s"),
  })
  .strict();

export type AuthzConfig = z.output<typeof authzConfigSchema>;

/** What the core needs, with `audit` resolved. */
export interface AclSettings {
  enabled: boolean;
  defaultAllow: boolean;
  tokenTtlMs: number;
  downPolicy: "extend-cache" | "deny";
  audit: boolean;
  auditMaxRecords: number;
  auditMaxAgeMs: number;
  auditFlushMs: number;
}

export function aclSettings(c: AuthzConfig): AclSettings {
  return {
    enabled: c.enabled, defaultAllow: c.default_policy === "allow", tokenTtlMs: c.token_ttl, downPolicy: c.down_policy,
    audit: c.audit ?? c.enabled, auditMaxRecords: c.audit_max_records, auditMaxAgeMs: c.audit_max_age, auditFlushMs: c.audit_flush_interval,
  };
}

/**
 * Settings from the raw `[plugins.authz]` table. An invalid table is also
 * reported by the config loader (exit 2) and by the plugin; here it falls
 * back to the safe side: enforcement on, default deny.
 */
export function settingsFromTable(table: Record<string, unknown> | undefined): AclSettings {
  const parsed = authzConfigSchema.safeParse(table ?? {});
  if (parsed.success) return aclSettings(parsed.data);
  return aclSettings({ ...authzConfigSchema.parse({}), enabled: true, default_policy: "deny" });
}
