// Reads of the authorization tables: tokens with their policies, policies,
// the bootstrap marker, intentions, the audit log. `ctx.state.acl`.
import { and, asc, desc, eq, gte, inArray, lt, lte, sql, type SQL } from "drizzle-orm";
import type { Db } from "../../store/db.ts";
import {
  aclBootstrap, aclPolicies, aclTokenPolicies, aclTokens, auditLog, intentions,
  type AclPolicyRow, type AclTokenRow, type AuditRow, type IntentionRow,
} from "../../store/schema.ts";
import { prefixPattern } from "./kv.ts";

export interface TokenWithPolicies extends AclTokenRow {
  policies: AclPolicyRow[];
}

export interface AuditQuery {
  /** ms since epoch; records at or after. */
  sinceMs?: number;
  accessor?: string;
  /** Path prefix. */
  path?: string;
  limit: number;
  /** Paging (newest first): records at or below (inclusive) or below this seq. */
  from?: { key: readonly (string | number)[]; inclusive: boolean };
}

export interface AclReader {
  tokenByHash(secretHash: string): TokenWithPolicies | undefined;
  token(accessorId: string): TokenWithPolicies | undefined;
  tokens(policyId?: string): TokenWithPolicies[];
  policy(id: string): AclPolicyRow | undefined;
  policyByName(name: string): AclPolicyRow | undefined;
  policies(): AclPolicyRow[];
  bootstrap(): { accessorId: string; bootstrapIndex: number } | undefined;
  intentions(): IntentionRow[];
  intention(id: string): IntentionRow | undefined;
  intentionExact(source: string, destination: string): IntentionRow | undefined;
  /** Newest first. */
  audit(q: AuditQuery): AuditRow[];
  /** Set by the node (core/acl/calls.ts): whether ACLs are enforced. */
  enabled?: () => boolean;
  /** Set by the node: may the holder of `token` call `destination` (intentions)? For the invoke plugin. */
  authorizeCall?: (token: string | undefined, destination: string) => Promise<{ allowed: boolean; reason: string }>;
}

function withPolicies(db: Db, rows: AclTokenRow[]): TokenWithPolicies[] {
  if (rows.length === 0) return [];
  const links = db.select().from(aclTokenPolicies).where(inArray(aclTokenPolicies.accessorId, rows.map((r) => r.accessorId))).all();
  const ids = [...new Set(links.map((l) => l.policyId))];
  const policies = ids.length ? db.select().from(aclPolicies).where(inArray(aclPolicies.id, ids)).all() : [];
  const byId = new Map(policies.map((p) => [p.id, p]));
  return rows.map((r) => ({
    ...r,
    policies: links.filter((l) => l.accessorId === r.accessorId).map((l) => byId.get(l.policyId)).filter((p): p is AclPolicyRow => !!p)
      .sort((a, b) => a.name.localeCompare(b.name)),
  }));
}

export function createAclReader(db: Db): AclReader {
  const one = (where: SQL) => withPolicies(db, db.select().from(aclTokens).where(where).all())[0];
  return {
    tokenByHash: (h) => one(eq(aclTokens.secretHash, h)),
    token: (a) => one(eq(aclTokens.accessorId, a)),
    tokens(policyId) {
      let rows = db.select().from(aclTokens).orderBy(asc(aclTokens.createIndex)).all();
      if (policyId) {
        const holders = new Set(db.select().from(aclTokenPolicies).where(eq(aclTokenPolicies.policyId, policyId)).all().map((l) => l.accessorId));
        rows = rows.filter((r) => holders.has(r.accessorId));
      }
      return withPolicies(db, rows);
    },
    policy: (id) => db.select().from(aclPolicies).where(eq(aclPolicies.id, id)).get(),
    policyByName: (name) => db.select().from(aclPolicies).where(eq(aclPolicies.name, name)).get(),
    policies: () => db.select().from(aclPolicies).orderBy(asc(aclPolicies.name)).all(),
    bootstrap: () => {
      const r = db.select().from(aclBootstrap).get();
      return r ? { accessorId: r.accessorId, bootstrapIndex: r.bootstrapIndex } : undefined;
    },
    intentions: () => db.select().from(intentions).orderBy(asc(intentions.createIndex)).all(),
    intention: (id) => db.select().from(intentions).where(eq(intentions.id, id)).get(),
    intentionExact: (s, d) => db.select().from(intentions).where(and(eq(intentions.source, s), eq(intentions.destination, d))).get(),
    audit(q) {
      const where: SQL[] = [];
      if (q.sinceMs !== undefined) where.push(gte(auditLog.at, q.sinceMs));
      if (q.accessor) where.push(eq(auditLog.accessor, q.accessor));
      if (q.path) where.push(sql`${auditLog.path} LIKE ${prefixPattern(q.path)} ESCAPE '\\'`);
      if (q.from) where.push(q.from.inclusive ? lte(auditLog.seq, Number(q.from.key[0])) : lt(auditLog.seq, Number(q.from.key[0])));
      return db.select().from(auditLog).where(where.length ? and(...where) : undefined).orderBy(desc(auditLog.seq)).limit(q.limit).all();
    },
  };
}

export const emptyAclReader: AclReader = {
  tokenByHash: () => undefined,
  token: () => undefined,
  tokens: () => [],
  policy: () => undefined,
  policyByName: () => undefined,
  policies: () => [],
  bootstrap: () => undefined,
  intentions: () => [],
  intention: () => undefined,
  intentionExact: () => undefined,
  audit: () => [],
};
