// From a request's secret to an Identity. Leader-role nodes look tokens up
// in their replicated state; agents, which hold no state, ask a leader over
// signed RPC (POST /v1/cluster/acl/resolve, by the secret's hash) and cache
// the answer, found or not, for `token_ttl` — so a token deleted on the
// leaders keeps working on an agent for up to that long (Consul's agents
// behave the same). When no leader answers, `down_policy` decides:
// "extend-cache" keeps using a cached answer, "deny" refuses.
import { compileAuthorizer, serviceIdentityRules } from "./policy.ts";
import { parseRules, type ParsedRules } from "./rules.ts";
import { hashSecret, MAX_TOKEN_CHARS, sameHash } from "./secret.ts";
import { ANONYMOUS_ACCESSOR, MANAGEMENT_POLICY_ID, type Identity } from "./types.ts";
import { ANONYMOUS_SECRET_HASH } from "../state/domains/acl.ts";
import type { AclReader } from "../state/domains/acl-read.ts";
import { isWorkloadToken, workloadRules, type WorkloadGrant } from "../variables/workload-identity.ts";

/** What a token is, as it travels from a leader to an agent (no secret, no hash). */
export interface TokenGrant {
  accessorId: string;
  description: string;
  serviceIdentities: string[];
  policies: { id: string; modifyIndex: number; rules: string }[];
}

/** Where tokens come from. lookup: null = no such token; a throw = the source is unreachable. */
export interface TokenSource {
  lookup(secretHash: string): TokenGrant | null | Promise<TokenGrant | null>;
  /** Changes whenever any token or policy may have changed: resolved identities are kept until it does. */
  version?(): number;
}

export class AclUnavailableError extends Error {}

export function grantOf(t: { accessorId: string; description: string; serviceIdentities: string[]; policies: { id: string; modifyIndex: number; rules: string }[] }): TokenGrant {
  return {
    accessorId: t.accessorId, description: t.description, serviceIdentities: t.serviceIdentities,
    policies: t.policies.map((p) => ({ id: p.id, modifyIndex: p.modifyIndex, rules: p.rules })),
  };
}

/** Tokens from replicated state. The empty secret is the anonymous token, which exists once bootstrapped. */
export function stateTokenSource(acl: () => AclReader, version?: () => number): TokenSource {
  return {
    version,
    lookup(secretHash) {
      const t = acl().tokenByHash(secretHash);
      // The index lookup is by hash; this comparison keeps the final match constant-time.
      if (!t || !sameHash(t.secretHash, secretHash)) return null;
      return grantOf(t);
    },
  };
}

export interface ResolverOptions {
  source: TokenSource;
  defaultAllow: () => boolean;
  /** Cache answers this long (agents; 0 = ask every time, leader-role nodes). */
  ttlMs: number;
  downPolicy: "extend-cache" | "deny";
  /** A per-process token for this node's own calls to its API (plugins, see HostInfo.localToken). */
  localToken?: string;
  /** Tasks' workload identity tokens (core/variables/workload-verify.ts): null = not valid (any more). */
  workload?: (secret: string) => Promise<WorkloadGrant | null>;
  now?: () => number;
}

const MAX_CACHED = 10_000;
const ANONYMOUS_GRANT: TokenGrant = { accessorId: ANONYMOUS_ACCESSOR, description: "Anonymous Token", serviceIdentities: [], policies: [] };

export class TokenResolver {
  private cache = new Map<string, { grant: TokenGrant | null; at: number }>();
  /** Resolved identities while the source's version holds (leader-role nodes: one lookup per token per ACL change). */
  private identities = new Map<string, { version: number; identity: Identity | undefined }>();
  private compiled = new Map<string, ParsedRules>();
  private readonly localHash?: string;

  constructor(private opts: ResolverOptions) {
    this.localHash = opts.localToken ? hashSecret(opts.localToken) : undefined;
  }

  /** The identity of `secret` ("" = anonymous), or undefined when no such token exists. */
  async resolve(secret: string): Promise<Identity | undefined> {
    if (secret.length > MAX_TOKEN_CHARS) return undefined;
    // A task's identity is decided afresh on every request, never cached: it ends with its allocation.
    if (this.opts.workload && isWorkloadToken(secret)) return this.workloadIdentity(await this.opts.workload(secret));
    const hash = secret === "" ? ANONYMOUS_SECRET_HASH : hashSecret(secret);
    if (this.localHash && sameHash(hash, this.localHash)) return this.identity(LOCAL_GRANT, true);
    const version = this.opts.source.version?.();
    if (version !== undefined) {
      const hit = this.identities.get(hash);
      if (hit && hit.version === version) return hit.identity;
    }
    let grant = await this.grant(hash);
    // Before bootstrap there is no anonymous token: anonymous is then a token with no policies.
    if (!grant && hash === ANONYMOUS_SECRET_HASH) grant = ANONYMOUS_GRANT;
    const identity = grant ? this.identity(grant, false) : undefined;
    if (version !== undefined) {
      if (this.identities.size >= MAX_CACHED) this.identities.clear();
      this.identities.set(hash, { version, identity });
    }
    return identity;
  }

  /** Drops cached answers (a SIGHUP that changed the settings; tests). */
  clear(): void {
    this.cache.clear();
    this.identities.clear();
  }

  private async grant(hash: string): Promise<TokenGrant | null> {
    if (this.opts.ttlMs <= 0) return this.opts.source.lookup(hash);
    const now = (this.opts.now ?? Date.now)();
    const hit = this.cache.get(hash);
    if (hit && now - hit.at < this.opts.ttlMs) return hit.grant;
    try {
      const grant = await this.opts.source.lookup(hash);
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(hash, { grant, at: now });
      return grant;
    } catch (err) {
      if (hit && this.opts.downPolicy === "extend-cache") return hit.grant;
      throw new AclUnavailableError(`cannot resolve the ACL token: no leader answered (${(err as Error)?.message ?? err})`);
    }
  }

  private rules(p: TokenGrant["policies"][number]): ParsedRules {
    const key = `${p.id}@${p.modifyIndex}`;
    let r = this.compiled.get(key);
    if (!r) {
      try {
        r = parseRules(p.rules);
      } catch {
        // Rules were validated when written; a policy this version cannot read grants nothing.
        r = { rules: [], unsegmented: {} };
      }
      if (this.compiled.size >= MAX_CACHED) this.compiled.clear();
      this.compiled.set(key, r);
    }
    return r;
  }

  private workloadIdentity(g: WorkloadGrant | null): Identity | undefined {
    if (!g) return undefined;
    return {
      accessorId: `workload:${g.allocId}/${g.task}`, description: `workload identity of task ${g.task} of job ${g.jobId}`,
      // The task's own service is its service identity: intentions and the mesh know the caller from the token.
      serviceIdentities: g.service ? [g.service] : [], anonymous: false, workloadNamespace: g.namespace || undefined,
      // Its implicit policy only: default_policy = "allow" must not widen a task's token.
      authz: compileAuthorizer({ policies: [workloadRules(g.jobId)], management: false, defaultAllow: false }),
    };
  }

  private identity(g: TokenGrant, local: boolean): Identity {
    const management = local || g.policies.some((p) => p.id === MANAGEMENT_POLICY_ID);
    const policies = [...g.policies.map((p) => this.rules(p)), ...g.serviceIdentities.map(serviceIdentityRules)];
    return {
      accessorId: g.accessorId, description: g.description, serviceIdentities: g.serviceIdentities,
      anonymous: g.accessorId === ANONYMOUS_ACCESSOR,
      authz: compileAuthorizer({ policies, management, defaultAllow: this.opts.defaultAllow() }),
    };
  }
}

const LOCAL_GRANT: TokenGrant = { accessorId: "node-local", description: "this node's own calls", serviceIdentities: [], policies: [] };
