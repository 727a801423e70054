// Intentions, behind one small interface: may the holder of `token` call
// `destination`? The authz plugin (ACL tokens, a token's service identity,
// intentions) owns the answer; invoke only asks and, on a denial, answers
// 403 with the reason (which intention matched).
//
// Until authz exposes its check, `authorizerFromState` finds nothing and
// every call is allowed. Wiring it is this file: point `find` at the
// authz read interface (see docs/invoke.md, "Intentions").

export interface CallDecision {
  allowed: boolean;
  /** Why: the intention that matched ("web => db (deny)"), or the default that applied. */
  reason: string;
}

export interface CallAuthorizer {
  /** False while ACLs are off: the hot path skips the check entirely. */
  enabled(): boolean;
  authorizeCall(token: string | undefined, destination: string): CallDecision | Promise<CallDecision>;
}

export const allowAll: CallAuthorizer = {
  enabled: () => false,
  authorizeCall: () => ({ allowed: true, reason: "ACLs are not enabled" }),
};

/** The shape authz is expected to offer on the state reader (duck-typed, like dns/catalog.ts). */
interface AclReadShape {
  enabled?: () => boolean;
  authorizeCall?: (token: string | undefined, destination: string) => CallDecision | Promise<CallDecision>;
  callerOf?: (token: string | undefined) => Promise<string | undefined>;
  callerMemo?: () => CallerLookup;
  authorizeSource?: (source: string, destination: string) => CallDecision | Promise<CallDecision>;
}

/** callerOf for one client connection: an answer known to hold comes back at once, not as a promise. */
export type CallerLookup = (token: string | undefined) => string | undefined | Promise<string | undefined>;

/** The mesh's two questions (core/acl/calls.ts): which service a token speaks for, and may a service call another. */
export interface MeshAuthorizer {
  /** "" = no service identity (a caller outside the mesh); undefined = an unknown token. */
  callerOf(token: string | undefined): Promise<string | undefined>;
  /** A callerOf that remembers its connection's last token while the ACLs say its answer holds (core/acl/calls.ts callerMemo). */
  callerMemo?(): CallerLookup;
  /** At once (no promise) when the answer is at hand: a mesh destination asks for every request. */
  authorizeSource(source: string, destination: string): CallDecision | Promise<CallDecision>;
}

export function meshAuthorizerFromState(state: unknown): MeshAuthorizer {
  const acl = (): AclReadShape | undefined => {
    const a = state && typeof state === "object" ? (state as { acl?: unknown }).acl : undefined;
    return a && typeof a === "object" ? (a as AclReadShape) : undefined;
  };
  return {
    callerOf: async (token) => (acl()?.callerOf ? acl()!.callerOf!(token) : ""),
    callerMemo() {
      const a = acl();
      if (a?.callerMemo) return a.callerMemo();
      return (token) => (acl()?.callerOf ? acl()!.callerOf!(token) : "");
    },
    authorizeSource: (source, destination) => {
      const a = acl();
      return a?.authorizeSource ? a.authorizeSource(source, destination) : allowAll.authorizeCall(undefined, destination);
    },
  };
}

/**
 * Looks for `state.acl.authorizeCall` (and `state.acl.enabled`) at call
 * time, so the check starts working as soon as authz provides it, with no
 * change here. Anything missing means "ACLs off".
 */
export function authorizerFromState(state: unknown): CallAuthorizer {
  const acl = (): AclReadShape | undefined => {
    const a = state && typeof state === "object" ? (state as { acl?: unknown }).acl : undefined;
    return a && typeof a === "object" ? (a as AclReadShape) : undefined;
  };
  return {
    enabled() {
      const a = acl();
      return typeof a?.authorizeCall === "function" && (typeof a.enabled !== "function" || a.enabled());
    },
    authorizeCall(token, destination) {
      const a = acl();
      if (!a?.authorizeCall) return allowAll.authorizeCall(token, destination);
      return a.authorizeCall(token, destination);
    },
  };
}

/** The route permission a caller of /v1/invoke/{service} needs, for the ACL middleware (Consul: service:<name> read). */
export function invokePermission(service: string): { resource: "service"; segment: string; access: "read" } {
  return { resource: "service", segment: service, access: "read" };
}
