// Service-to-service call checks for the invoke plugin: may the holder of
// `token` call `destination`? The caller is the token's service identity
// (the first one); intentions decide (core/acl/intentions.ts); none matches:
// the ACL default policy. Offered on the state reader as
// `state.acl.enabled()` / `state.acl.authorizeCall()` (plugins/invoke/authorize.ts).
// Agents hold no intentions: they fetch the list from a leader (signed RPC)
// and keep it for token_ttl, like tokens.
import { decidingIntention, type IntentionRule } from "./intentions.ts";
import type { Kept, TokenResolver } from "./resolve.ts";
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
  /** The same array for as long as the intentions are the same (a changed list is a new array, never one changed in place): decisions are kept per array. */
  intentions: () => IntentionRule[] | Promise<IntentionRule[]>;
}

/** Decisions kept per intentions list; more pairs than this (destinations are names callers write) start it afresh. */
const MAX_DECISIONS = 4096;

export function callAuthorizer(d: CallAuthorizerDeps) {
  /**
   * Decisions per (source, destination), for as long as the intentions list
   * they were made from is the current one: both sources of the list
   * (versionedList on leader-role nodes, cachedList on agents) hand out the
   * same array until the intentions change, so a new array is the
   * invalidation — a removed or narrowed intention decides the very next call.
   * A mesh destination asks this for every request it receives.
   */
  let decidedFrom: { list: readonly IntentionRule[]; defaultAllow: boolean } | undefined;
  const decisions = new Map<string, CallDecision>();
  /** The intention (or the default) for a known source service ("" = none); at once when the list is at hand. */
  const decide = (source: string, destination: string): CallDecision | Promise<CallDecision> => {
    const list = d.intentions();
    return list instanceof Promise ? list.then((l) => decideWith(l, source, destination)) : decideWith(list, source, destination);
  };
  const decideWith = (list: readonly IntentionRule[], source: string, destination: string): CallDecision => {
    const allow = d.defaultAllow();
    if (decidedFrom?.list !== list || decidedFrom.defaultAllow !== allow || decisions.size >= MAX_DECISIONS) {
      decisions.clear();
      decidedFrom = { list, defaultAllow: allow };
    }
    const key = `${source}\n${destination}`;
    let decision = decisions.get(key);
    if (!decision) {
      decision = decideFrom(list, allow, source, destination);
      decisions.set(key, decision);
    }
    return decision;
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
    /**
     * A callerOf for one client connection (the mesh's proxy listener): the
     * last token seen on it and its answer are kept while the resolver says
     * that answer holds (TokenResolver.holds: no ACL change on leader-role
     * nodes, within token_ttl of the grant on agents), so the calls of a
     * keep-alive connection skip hashing and resolving the token — and a
     * deleted token or a narrowed policy decides the next call as resolve()
     * would. A known answer is returned as is, not as a promise.
     */
    callerMemo(): (token: string | undefined) => string | undefined | Promise<string | undefined> {
      let last: { token: string; resolver: TokenResolver; keep: Kept; caller: string | undefined } | undefined;
      return (token) => {
        const t = token ?? "";
        const resolver = d.resolver();
        // Only the same connection's previous token is compared: what a client learns by timing it is its own.
        if (last && last.token === t && last.resolver === resolver && resolver.holds(last.keep)) return last.caller;
        last = undefined;
        return resolver.resolveKept(t).then(({ identity, keep }) => {
          const caller = identity ? (identity.serviceIdentities[0] ?? "") : undefined;
          if (keep) last = { token: t, resolver, keep, caller };
          return caller;
        }, (err) => {
          if (err instanceof AclUnavailableError) return undefined;
          throw err;
        });
      };
    },
    /**
     * May `source` (a mesh peer's certificate names it; "" = a caller outside
     * the mesh) call `destination`? A mesh destination asks for every request:
     * the answer comes at once (no promise) when the intentions are at hand.
     */
    authorizeSource(source: string, destination: string): CallDecision | Promise<CallDecision> {
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

/** The intention (or the default) for a known source service ("" = none). Pure. */
export function decideFrom(list: readonly IntentionRule[], defaultAllow: boolean, source: string, destination: string): CallDecision {
  const i = decidingIntention(list, source, destination);
  if (i) return { allowed: i.action === "allow", reason: `intention ${i.source} => ${i.destination} (${i.action})` };
  return { allowed: defaultAllow, reason: `no intention matches ${source || "(no service identity)"} => ${destination}: default policy ${defaultAllow ? "allow" : "deny"}` };
}

/**
 * A local list read again only when `version` changes (leader-role nodes:
 * bumped by every applied command that may change it), the same array
 * otherwise — which is what lets callAuthorizer keep its decisions.
 */
export function versionedList<T>(read: () => T[], version: () => number): () => T[] {
  let cached: { version: number; list: T[] } | undefined;
  return () => {
    const v = version();
    if (cached?.version !== v) cached = { version: v, list: read() };
    return cached.list;
  };
}

/** Caches a remote list for `ttlMs` (the cached list at once, not as a promise); on failure keeps the last one (extend-cache) or throws. */
export function cachedList<T>(fetch: () => Promise<T[]>, ttlMs: () => number, now: () => number = Date.now): () => T[] | Promise<T[]> {
  let cached: { at: number; list: T[] } | undefined;
  const refresh = async (): Promise<T[]> => {
    try {
      cached = { at: now(), list: await fetch() };
    } catch (err) {
      if (cached) return cached.list;
      throw err;
    }
    return cached.list;
  };
  return () => (cached && now() - cached.at < ttlMs() ? cached.list : refresh());
}
