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

/** What resolveKept() hands out with an answer, for holds(): the source's version it was read at (-1: none), when its grant was fetched (agents). */
export interface Kept {
  version: number;
  at: number;
  gen: number;
}

/** An agent's cached answer for a secret's hash, and the identity compiled from it (once, on first use). */
interface CachedGrant {
  grant: TokenGrant | null;
  at: number;
  compiled?: { identity: Identity | undefined };
}
const ANONYMOUS_GRANT: TokenGrant = { accessorId: ANONYMOUS_ACCESSOR, description: "Anonymous Token", serviceIdentities: [], policies: [] };

export class TokenResolver {
  private cache = new Map<string, CachedGrant>();
  /** Resolved identities while the source's version holds (leader-role nodes: one lookup per token per ACL change). */
  private identities = new Map<string, { version: number; identity: Identity | undefined }>();
  private compiled = new Map<string, ParsedRules>();
  /** Bumped when cached answers are dropped: a Kept from before no longer holds. */
  private generation = 0;
  private readonly localHash?: string;

  constructor(private opts: ResolverOptions) {
    this.localHash = opts.localToken ? hashSecret(opts.localToken) : undefined;
  }

  /** The identity of `secret` ("" = anonymous), or undefined when no such token exists. */
  async resolve(secret: string): Promise<Identity | undefined> {
    return (await this.resolveKept(secret)).identity;
  }

  /**
   * resolve(), and what tells later whether that answer still holds
   * (holds()) without hashing and looking the secret up again: on leader-role
   * nodes until any ACL change (the source's version), on agents until the
   * cached grant it came from is older than token_ttl — exactly as long as
   * resolve() itself would give it. null: ask again every time (a task's
   * workload identity, this node's own token, a stale answer kept while no
   * leader answers, or no way to know).
   */
  async resolveKept(secret: string): Promise<{ identity: Identity | undefined; keep: Kept | null }> {
    if (secret.length > MAX_TOKEN_CHARS) return { identity: undefined, keep: null };
    // A task's identity is decided afresh on every request, never cached: it ends with its allocation.
    if (this.opts.workload && isWorkloadToken(secret)) return { identity: this.workloadIdentity(await this.opts.workload(secret)), keep: null };
    const hash = secret === "" ? ANONYMOUS_SECRET_HASH : hashSecret(secret);
    if (this.localHash && sameHash(hash, this.localHash)) return { identity: this.identity(LOCAL_GRANT, true), keep: null };
    const gen = this.generation;
    const version = this.opts.source.version?.();
    if (version !== undefined) {
      const hit = this.identities.get(hash);
      if (hit && hit.version === version) return { identity: hit.identity, keep: { version, at: 0, gen } };
    }
    let identity: Identity | undefined;
    let at = 0;
    if (this.opts.ttlMs > 0) {
      const kept = await this.cachedIdentity(hash);
      identity = kept.identity;
      if (kept.at === null) return { identity, keep: null };
      at = kept.at;
    } else identity = this.identityOf(hash, await this.opts.source.lookup(hash));
    if (version !== undefined) {
      if (this.identities.size >= MAX_CACHED) this.clearIdentities();
      this.identities.set(hash, { version, identity });
    }
    return { identity, keep: version !== undefined || this.opts.ttlMs > 0 ? { version: version ?? -1, at, gen } : null };
  }

  /** Whether an answer of resolveKept() is still the one resolve() would give now. */
  holds(k: Kept): boolean {
    if (k.gen !== this.generation) return false;
    if (k.version >= 0 && this.opts.source.version?.() !== k.version) return false;
    return this.opts.ttlMs <= 0 || (this.opts.now ?? Date.now)() - k.at < this.opts.ttlMs;
  }

  /** Drops cached answers (a SIGHUP that changed the settings; tests). */
  clear(): void {
    this.cache.clear();
    this.clearIdentities();
  }

  private clearIdentities(): void {
    this.identities.clear();
    this.generation++;
  }

  /**
   * Agents: the identity of a cached grant, and when that grant was fetched
   * (null: a stale one, kept because no leader answers). It is compiled once
   * per grant fetched (compiling an authorizer costs tens of µs, and the
   * mesh's proxy asks for every call) and lives exactly as long as the grant
   * it was made from: a grant fetched again after token_ttl is compiled again.
   */
  private async cachedIdentity(hash: string): Promise<{ identity: Identity | undefined; at: number | null }> {
    const now = (this.opts.now ?? Date.now)();
    const hit = this.cache.get(hash);
    if (hit && now - hit.at < this.opts.ttlMs) return { identity: this.entryIdentity(hash, hit), at: hit.at };
    let grant: TokenGrant | null;
    try {
      grant = await this.opts.source.lookup(hash);
    } catch (err) {
      if (hit && this.opts.downPolicy === "extend-cache") return { identity: this.entryIdentity(hash, hit), at: null };
      throw new AclUnavailableError(`cannot resolve the ACL token: no leader answered (${(err as Error)?.message ?? err})`);
    }
    if (this.cache.size >= MAX_CACHED) {
      this.cache.clear();
      this.generation++;
    }
    const entry: CachedGrant = { grant, at: now };
    this.cache.set(hash, entry);
    return { identity: this.entryIdentity(hash, entry), at: now };
  }

  private entryIdentity(hash: string, e: CachedGrant): Identity | undefined {
    if (!e.compiled) e.compiled = { identity: this.identityOf(hash, e.grant) };
    return e.compiled.identity;
  }

  /** The identity a grant gives (null: no such token). Before bootstrap there is no anonymous token: anonymous is then a token with no policies. */
  private identityOf(hash: string, grant: TokenGrant | null): Identity | undefined {
    if (!grant && hash === ANONYMOUS_SECRET_HASH) grant = ANONYMOUS_GRANT;
    return grant ? this.identity(grant, false) : undefined;
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
