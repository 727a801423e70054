// Wires authorization into a node: settings from `[plugins.authz]` (read by
// the core whether or not the authz plugin is enabled), the token resolver
// (local state on leader-role nodes, the leaders over signed RPC on
// agents), the route middleware, and the global middlewares in order:
//   audit (outermost, so it sees every refusal: 401 signatures, 413, 429, 403)
//   → node signature → rate limits → (per route) ACL → validation → handler.
import { randomBytes } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { Command } from "../state/commands.ts";
import type { StateReader } from "../state/reader.ts";
import type { RouteEntry } from "../http/routes.ts";
import { rateLimit } from "../http/middleware/rate-limit.ts";
import { settingsFromTable, type AclSettings } from "./settings.ts";
import { auditMiddleware, AuditBatcher, earlyRefusalRecord } from "./audit.ts";
import { remoteOf } from "../http/remote-addr.ts";
import { routeAuthorizer } from "./enforce.ts";
import { nodeSignature } from "./node-signature.ts";
import { AclUnavailableError, stateTokenSource, TokenResolver, type TokenGrant, type TokenSource } from "./resolve.ts";
import { NO_OWNERS, readFact, type CatalogOwners, type FactQuery } from "./facts.ts";
import type { SegmentHelpers } from "./types.ts";
import { cachedList, callAuthorizer, versionedList } from "./calls.ts";
import type { IntentionRule } from "./intentions.ts";

import { PEER_PREFIXES, STREAMED_PREFIXES } from "../http/peer-paths.ts";
import type { RpcVerifier } from "../http/middleware/cluster-auth.ts";

export { PEER_PREFIXES };

export interface SecurityOptions {
  config: Config;
  log: Logger;
  /** Checks node signatures (the node's one RpcVerifier). */
  verifier: RpcVerifier;
  /** Leader-role nodes: their replicated state. */
  state?: StateReader;
  /** Agents: a leader's answer for a secret's hash (signed RPC). */
  remoteLookup?: (secretHash: string) => Promise<TokenGrant | null>;
  /** Agents: the intentions, from a leader (signed RPC). */
  remoteIntentions?: () => Promise<IntentionRule[]>;
  /** Agents: a fact for an ACL decision, from a leader (signed RPC, core/acl/facts.ts). */
  remoteFact?: (q: FactQuery) => Promise<unknown>;
  propose: (cmd: Command) => Promise<unknown>;
  /** Tasks' workload identity tokens (core/variables/workload-verify.ts). */
  workload?: (secret: string) => Promise<import("../variables/workload-identity.ts").WorkloadGrant | null>;
  /** Leader-role nodes: called with each applied entry (resolved tokens are kept until an ACL change). */
  onApplied?: (fn: (commandType: string, index: number) => void) => void;
}

/** Commands after which resolved tokens may be stale. */
const ACL_CHANGES = new Set(["ACLBootstrap", "ACLTokenSet", "ACLTokenDelete", "ACLPolicySet", "ACLPolicyDelete", "RestoreState"]);
/** Commands after which the intentions read from state may be stale. */
const INTENTION_CHANGES = new Set(["IntentionSet", "IntentionDelete", "RestoreState"]);

export interface Security {
  /** For AppOptions.outer, after the request metrics: the audit log, which must see refusals of every later middleware. */
  outer: MiddlewareHandler[];
  /** For AppOptions.extra, in order. */
  middlewares: MiddlewareHandler[];
  routeMiddleware: (entry: RouteEntry, all: readonly RouteEntry[]) => MiddlewareHandler | undefined;
  settings: () => AclSettings;
  /**
   * True while no ACL, audit or rate limit acts on client requests (the
   * default): a request then may skip the middlewares (core/api/kv-fast.ts).
   */
  open: () => boolean;
  resolver: () => TokenResolver;
  /** This process's own token (HostInfo.localToken). */
  localToken: string;
  audit: AuditBatcher;
  /** Records a write the browser guard refused before the route table (audit.ts earlyRefusalRecord). */
  auditEarlyRefusal(req: Request, env: unknown, status: number): void;
  /** Call checks for the invoke plugin, offered on state.acl. */
  calls: ReturnType<typeof callAuthorizer>;
  /** New `[plugins.authz]` settings (SIGHUP). */
  reload(table: Record<string, unknown> | undefined): void;
  close(): Promise<void>;
}

/**
 * The facts segments need: from this node's state on leader-role nodes, from
 * a leader (the same readFact, over signed RPC) on agents — never a guess, so
 * an agent decides as a leader would. A leader that cannot be asked is a 503.
 */
function helpers(state: StateReader | undefined, selfName: string, remote?: (q: FactQuery) => Promise<unknown>): SegmentHelpers {
  const fact = async (q: FactQuery): Promise<unknown> => {
    if (state) return readFact(state, q);
    if (!remote) throw new AclUnavailableError("no leader to ask");
    try {
      return await remote(q);
    } catch (err) {
      throw new AclUnavailableError(`ACL facts unavailable: ${String((err as Error)?.message ?? err).slice(0, 120)}`);
    }
  };
  const text = async (q: FactQuery) => {
    const v = await fact(q);
    if (typeof v !== "string") throw new AclUnavailableError("ACL facts unavailable: a malformed answer");
    return v;
  };
  // Synchronous where the state is local (the common case on leaders), a leader round trip on agents.
  const name = (kind: Exclude<FactQuery["kind"], "catalogOwners">) => (id: string) =>
    state ? (readFact(state, { kind, id }) as string) : text({ kind, id });
  return {
    selfName,
    nodeName: name("nodeName"),
    jobOfAlloc: name("jobOfAlloc"),
    jobOfEval: name("jobOfEval"),
    jobOfDeployment: name("jobOfDeployment"),
    intentionDestination: name("intentionDestination"),
    sessionNode: name("sessionNode"),
    catalogOwners: async (node) => {
      const v = await fact({ kind: "catalogOwners", id: node });
      return (v && typeof v === "object" ? v : NO_OWNERS) as CatalogOwners;
    },
  };
}

export function setupSecurity(o: SecurityOptions): Security {
  let settings = settingsFromTable(o.config.plugins.settings.authz);
  const localToken = randomBytes(24).toString("base64url");
  // Bumped by every ACL change, and by a gap in applied indexes (a Raft snapshot was installed: anything may have changed).
  let aclVersion = 0;
  // The same for the intentions: a destination's intention check reads them per call, from SQLite otherwise.
  let intentionsVersion = 0;
  let lastIndex = o.state?.appliedIndex() ?? -1;
  o.onApplied?.((type, index) => {
    const gap = lastIndex >= 0 && index !== lastIndex + 1;
    if (gap || ACL_CHANGES.has(type)) aclVersion++;
    if (gap || INTENTION_CHANGES.has(type)) intentionsVersion++;
    lastIndex = index;
  });
  const source: TokenSource = o.state
    ? stateTokenSource(() => o.state!.acl, o.onApplied ? () => aclVersion : undefined)
    : { lookup: (h) => o.remoteLookup!(h) };
  const makeResolver = () => new TokenResolver({
    source, defaultAllow: () => settings.defaultAllow, localToken, downPolicy: settings.downPolicy, workload: o.workload,
    // Leader-role nodes read their own state; only agents cache.
    ttlMs: o.state ? 0 : settings.tokenTtlMs,
  });
  let resolver = makeResolver();
  const audit = new AuditBatcher({
    propose: o.propose, log: o.log.child({ component: "audit" }),
    flushMs: () => settings.auditFlushMs,
    retention: () => ({ maxRecords: settings.auditMaxRecords, maxAgeMs: settings.auditMaxAgeMs }),
  });
  const http = o.config.http;
  const limiter = rateLimit({
    perToken: http.rateLimitPerToken, perAddress: http.rateLimitPerAddress, burst: http.rateLimitBurst,
    exempt: (path) => path === "/v1/healthz" || PEER_PREFIXES.some((p) => path.startsWith(p)),
  });
  const outer = [auditMiddleware({ enabled: () => settings.audit, batcher: audit, nodeName: o.config.node.name })];
  const middlewares = [
    nodeSignature({ verifier: o.verifier, peerPrefixes: PEER_PREFIXES, maxBodyBytes: http.maxBodyBytes, streamed: STREAMED_PREFIXES }),
    ...(limiter ? [limiter] : []),
  ];
  if (settings.enabled && settings.defaultAllow) o.log.warn("ACLs are on with default_policy = \"allow\": anything no rule names is allowed");
  const calls = callAuthorizer({
    enabled: () => settings.enabled, defaultAllow: () => settings.defaultAllow, resolver: () => resolver,
    intentions: o.state
      ? (o.onApplied ? versionedList(() => o.state!.acl.intentions(), () => intentionsVersion) : () => o.state!.acl.intentions())
      : cachedList(() => o.remoteIntentions!(), () => settings.tokenTtlMs),
  });
  return {
    outer,
    middlewares,
    calls,
    routeMiddleware: routeAuthorizer({ settings: () => settings, resolver: () => resolver, helpers: helpers(o.state, o.config.node.name, o.remoteFact), log: o.log }),
    settings: () => settings,
    open: () => !settings.enabled && !settings.audit && !limiter,
    resolver: () => resolver,
    localToken,
    audit,
    auditEarlyRefusal(req, env, status) {
      if (!settings.audit) return;
      const record = earlyRefusalRecord(req, { nodeName: o.config.node.name, remote: remoteOf(req, env), status });
      if (record) audit.add(record);
    },
    reload(table) {
      settings = settingsFromTable(table);
      resolver = makeResolver();
    },
    close: () => audit.close(),
  };
}
