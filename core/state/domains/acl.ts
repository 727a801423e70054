// ACL tokens and policies: commands and appliers. A command carries a
// token's secret only as its SHA-256 (the log, snapshots and the database
// never see a secret). Rules are validated by the proposer (plugins/authz);
// appliers check what depends on state (names taken, policies that exist),
// so every replica reaches the same outcome.
import { eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { aclBootstrap, aclPolicies, aclTokenPolicies, aclTokens } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";
import { ANONYMOUS_ACCESSOR, MANAGEMENT_POLICY_ID, MANAGEMENT_POLICY_NAME } from "../../acl/types.ts";

/** Consul's global-management rules; the policy's id, not this text, is what grants everything. */
export const MANAGEMENT_RULES = `acl = "write"
agent_prefix "" { policy = "write" }
event_prefix "" { policy = "write" }
key_prefix "" { policy = "write" }
node_prefix "" { policy = "write" }
operator = "write"
query_prefix "" { policy = "write" }
service_prefix "" { policy = "write" intentions = "write" }
session_prefix "" { policy = "write" }
plugin_prefix "" { policy = "write" }
job_prefix "" { policy = "write" }`;

/** sha256("anonymous"): Consul accepts the literal "anonymous" as the anonymous token's secret. */
export const ANONYMOUS_SECRET_HASH = "2f183a4e64493af3f377f745eda502363cd3e7ef6e4d266d444758de0a85fcc8";

const id = z.string().min(1).max(128);
const hash = z.string().regex(/^[0-9a-f]{64}$/);
const text = (max: number) => z.string().max(max);

export const ACLBootstrap = z.object({
  type: z.literal("ACLBootstrap"), v: z.literal(1), at: z.number(),
  accessorId: id, secretHash: hash,
});

const TokenFields = z.object({
  accessorId: id,
  description: text(1024),
  policyIds: z.array(id).max(256),
  serviceIdentities: z.array(z.string().min(1).max(256)).max(64),
});

export const ACLTokenSet = z.object({
  type: z.literal("ACLTokenSet"), v: z.literal(1), at: z.number(),
  /** create: the accessor and the secret must be new; update: keeps the secret. */
  mode: z.enum(["create", "update"]),
  token: TokenFields,
  secretHash: hash.optional(),
});

export const ACLTokenDelete = z.object({ type: z.literal("ACLTokenDelete"), v: z.literal(1), at: z.number(), accessorId: id });

export const ACLPolicySet = z.object({
  type: z.literal("ACLPolicySet"), v: z.literal(1), at: z.number(),
  mode: z.enum(["create", "update"]),
  policy: z.object({ id, name: z.string().min(1).max(128), description: text(1024), rules: text(64 * 1024) }),
});

export const ACLPolicyDelete = z.object({ type: z.literal("ACLPolicyDelete"), v: z.literal(1), at: z.number(), id });

export const aclCommands = [ACLBootstrap, ACLTokenSet, ACLTokenDelete, ACLPolicySet, ACLPolicyDelete] as const;

const refuse = (code: string, message: string): CommandResult => ({ ok: false, code, message });

function linkPolicies(db: Db, accessorId: string, policyIds: string[]) {
  db.delete(aclTokenPolicies).where(eq(aclTokenPolicies.accessorId, accessorId)).run();
  for (const p of new Set(policyIds)) db.insert(aclTokenPolicies).values({ accessorId, policyId: p }).run();
}

function applyBootstrap(db: Db, index: number, cmd: z.infer<typeof ACLBootstrap>): CommandResult {
  const done = db.select().from(aclBootstrap).get();
  if (done) return refuse("ACL_BOOTSTRAP_DONE", `ACL bootstrap no longer allowed (reset index: ${done.bootstrapIndex})`);
  const stamp = { createIndex: index, modifyIndex: index };
  if (!db.select().from(aclPolicies).where(eq(aclPolicies.id, MANAGEMENT_POLICY_ID)).get()) {
    db.insert(aclPolicies).values({
      id: MANAGEMENT_POLICY_ID, name: MANAGEMENT_POLICY_NAME, description: "Builtin Policy that grants unlimited access", rules: MANAGEMENT_RULES, ...stamp,
    }).run();
  }
  if (!db.select().from(aclTokens).where(eq(aclTokens.accessorId, ANONYMOUS_ACCESSOR)).get()) {
    db.insert(aclTokens).values({
      accessorId: ANONYMOUS_ACCESSOR, secretHash: ANONYMOUS_SECRET_HASH, description: "Anonymous Token", serviceIdentities: [], createTime: cmd.at, ...stamp,
    }).run();
  }
  if (db.select().from(aclTokens).where(eq(aclTokens.secretHash, cmd.secretHash)).get()) return refuse("ACL_TOKEN_TAKEN", "secret already in use");
  db.insert(aclTokens).values({
    accessorId: cmd.accessorId, secretHash: cmd.secretHash, description: "Bootstrap Token (Global Management)", serviceIdentities: [], createTime: cmd.at, ...stamp,
  }).run();
  linkPolicies(db, cmd.accessorId, [MANAGEMENT_POLICY_ID]);
  db.insert(aclBootstrap).values({ id: 1, accessorId: cmd.accessorId, bootstrapIndex: index }).run();
  return { ok: true, value: { accessorId: cmd.accessorId } };
}

function missingPolicy(db: Db, ids: string[]): string | undefined {
  if (ids.length === 0) return undefined;
  const found = new Set(db.select({ id: aclPolicies.id }).from(aclPolicies).where(inArray(aclPolicies.id, ids)).all().map((r) => r.id));
  return ids.find((p) => !found.has(p));
}

function applyTokenSet(db: Db, index: number, cmd: z.infer<typeof ACLTokenSet>): CommandResult {
  const t = cmd.token;
  const existing = db.select().from(aclTokens).where(eq(aclTokens.accessorId, t.accessorId)).get();
  const missing = missingPolicy(db, t.policyIds);
  if (missing) return refuse("ACL_POLICY_NOT_FOUND", `no policy with id ${missing}`);
  if (cmd.mode === "create") {
    if (existing) return refuse("ACL_TOKEN_TAKEN", `a token with AccessorID ${t.accessorId} exists`);
    if (!cmd.secretHash) return refuse("INVALID_COMMAND", "a new token needs a secret");
    if (db.select().from(aclTokens).where(eq(aclTokens.secretHash, cmd.secretHash)).get()) return refuse("ACL_TOKEN_TAKEN", "SecretID is already in use");
    db.insert(aclTokens).values({
      accessorId: t.accessorId, secretHash: cmd.secretHash, description: t.description, serviceIdentities: t.serviceIdentities,
      createTime: cmd.at, createIndex: index, modifyIndex: index,
    }).run();
  } else {
    if (!existing) return refuse("ACL_TOKEN_NOT_FOUND", `no token with AccessorID ${t.accessorId}`);
    db.update(aclTokens).set({ description: t.description, serviceIdentities: t.serviceIdentities, modifyIndex: index })
      .where(eq(aclTokens.accessorId, t.accessorId)).run();
  }
  linkPolicies(db, t.accessorId, t.policyIds);
  return { ok: true, value: { accessorId: t.accessorId } };
}

function applyTokenDelete(db: Db, _index: number, cmd: z.infer<typeof ACLTokenDelete>): CommandResult {
  if (cmd.accessorId === ANONYMOUS_ACCESSOR) return refuse("ACL_TOKEN_RESERVED", "the anonymous token cannot be deleted");
  const existing = db.select({ a: aclTokens.accessorId }).from(aclTokens).where(eq(aclTokens.accessorId, cmd.accessorId)).get();
  if (!existing) return refuse("ACL_TOKEN_NOT_FOUND", `no token with AccessorID ${cmd.accessorId}`);
  db.delete(aclTokens).where(eq(aclTokens.accessorId, cmd.accessorId)).run();
  db.delete(aclTokenPolicies).where(eq(aclTokenPolicies.accessorId, cmd.accessorId)).run();
  return { ok: true, value: true };
}

function applyPolicySet(db: Db, index: number, cmd: z.infer<typeof ACLPolicySet>): CommandResult {
  const p = cmd.policy;
  if (p.id === MANAGEMENT_POLICY_ID) return refuse("ACL_POLICY_RESERVED", "the global-management policy cannot be changed");
  const existing = db.select().from(aclPolicies).where(eq(aclPolicies.id, p.id)).get();
  const named = db.select({ id: aclPolicies.id }).from(aclPolicies).where(eq(aclPolicies.name, p.name)).get();
  if (named && named.id !== p.id) return refuse("ACL_POLICY_NAME_TAKEN", `a policy named "${p.name}" exists`);
  if (cmd.mode === "create") {
    if (existing) return refuse("ACL_POLICY_TAKEN", `a policy with id ${p.id} exists`);
    db.insert(aclPolicies).values({ ...p, createIndex: index, modifyIndex: index }).run();
  } else {
    if (!existing) return refuse("ACL_POLICY_NOT_FOUND", `no policy with id ${p.id}`);
    db.update(aclPolicies).set({ name: p.name, description: p.description, rules: p.rules, modifyIndex: index }).where(eq(aclPolicies.id, p.id)).run();
  }
  return { ok: true, value: { id: p.id } };
}

function applyPolicyDelete(db: Db, _index: number, cmd: z.infer<typeof ACLPolicyDelete>): CommandResult {
  if (cmd.id === MANAGEMENT_POLICY_ID) return refuse("ACL_POLICY_RESERVED", "the global-management policy cannot be deleted");
  const existing = db.select({ id: aclPolicies.id }).from(aclPolicies).where(eq(aclPolicies.id, cmd.id)).get();
  if (!existing) return refuse("ACL_POLICY_NOT_FOUND", `no policy with id ${cmd.id}`);
  db.delete(aclPolicies).where(eq(aclPolicies.id, cmd.id)).run();
  db.delete(aclTokenPolicies).where(eq(aclTokenPolicies.policyId, cmd.id)).run();
  return { ok: true, value: true };
}

const TOKEN_TABLES = ["acl_tokens", "acl_token_policies"];
export const aclAppliers = {
  ACLBootstrap: { tables: [...TOKEN_TABLES, "acl_policies", "acl_bootstrap"], apply: applyBootstrap },
  ACLTokenSet: { tables: TOKEN_TABLES, apply: applyTokenSet },
  ACLTokenDelete: { tables: TOKEN_TABLES, apply: applyTokenDelete },
  ACLPolicySet: { tables: ["acl_policies"], apply: applyPolicySet },
  ACLPolicyDelete: { tables: ["acl_policies", "acl_token_policies"], apply: applyPolicyDelete },
};
