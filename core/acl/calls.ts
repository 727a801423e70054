// Service-to-service call checks for the invoke plugin: may the holder of
// `token` call `destination`? The caller is the token's service identity
// (the first one); intentions decide (core/acl/intentions.ts); none matches:
// the ACL default policy. Offered on the state reader as
// `state.acl.enabled()` / `state.acl.authorizeCall()` (plugins/invoke/authorize.ts).
// Agents hold no intentions: they fetch the list from a leader (signed RPC)
// and keep it for token_ttl, like tokens.
import { decidingIntention, type IntentionRule } from "./intentions.ts";
import type { TokenResolver } from "./resolve.ts";
import { AclUnavailableError } from "./resolve.ts";

export interface CallDecision {
  allowed: boolean;
  /** The intention that decided ("web => db (deny)"), or the default that applied. */
  reason: string;
}

export interface CallAuthorizerDeps {
  enabled: () => boolean;
  defaultAllow: () => boolean;
  resolver: () => TokenResolver;
  intentions: () => IntentionRule[] | Promise<IntentionRule[]>;
}

export function callAuthorizer(d: CallAuthorizerDeps) {
  /** The intention (or the default) for a known source service ("" = none). */
  const decide = async (source: string, destination: string): Promise<CallDecision> => {
    const i = decidingIntention(await d.intentions(), source, destination);
    if (i) return { allowed: i.action === "allow", reason: `intention ${i.source} => ${i.destination} (${i.action})` };
    const allow = d.defaultAllow();
    return { allowed: allow, reason: `no intention matches ${source || "(no service identity)"} => ${destination}: default policy ${allow ? "allow" : "deny"}` };
  };
  return {
    enabled: d.enabled,
    /**
     * The service a token speaks for (its first service identity; a task's
     * workload token: the task's service), "" for none, undefined when the
     * token is unknown or cannot be resolved now. The mesh's source agent
     * presents this service's certificate (docs/mesh.md).
     */
    async callerOf(token: string | undefined): Promise<string | undefined> {
      try {
        const identity = await d.resolver().resolve(token ?? "");
        return identity ? (identity.serviceIdentities[0] ?? "") : undefined;
      } catch (err) {
        if (err instanceof AclUnavailableError) return undefined;
        throw err;
      }
    },
    /** May `source` (a mesh peer's certificate names it; "" = a caller outside the mesh) call `destination`? */
    async authorizeSource(source: string, destination: string): Promise<CallDecision> {
      if (!d.enabled()) return { allowed: true, reason: "ACLs are not enabled" };
      return decide(source, destination);
    },
    async authorizeCall(token: string | undefined, destination: string): Promise<CallDecision> {
      if (!d.enabled()) return { allowed: true, reason: "ACLs are not enabled" };
      let identity;
      try {
        identity = await d.resolver().resolve(token ?? "");
      } catch (err) {
        if (err instanceof AclUnavailableError) return { allowed: false, reason: err.message };
        throw err;
      }
      if (!identity) return { allowed: false, reason: "ACL not found" };
      // No service identity: source "" — only intentions from "*" match it.
      return decide(identity.serviceIdentities[0] ?? "", destination);
    },
  };
}

/** Caches a remote list for `ttlMs`; on failure keeps the last one (extend-cache) or throws. */
export function cachedList<T>(fetch: () => Promise<T[]>, ttlMs: () => number, now: () => number = Date.now): () => Promise<T[]> {
  let cached: { at: number; list: T[] } | undefined;
  return async () => {
    if (cached && now() - cached.at < ttlMs()) return cached.list;
    try {
      cached = { at: now(), list: await fetch() };
    } catch (err) {
      if (cached) return cached.list;
      throw err;
    }
    return cached.list;
  };
}
