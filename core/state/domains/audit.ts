// The audit log: records of HTTP writes, appended in batches (one command
// carries many records, see core/acl/audit.ts) and trimmed to the retention
// bound the proposer sends. The applier uses the command's own time, never a
// clock, so every replica keeps the same rows.
import { desc, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { auditLog } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";

/** Records in one command; seq = index × this + position, so it must stay fixed. */
export const MAX_AUDIT_BATCH = 1000;

export const AuditRecord = z.object({
  at: z.number(),
  node: z.string().max(128),
  accessor: z.string().max(128),
  method: z.string().max(16),
  path: z.string().max(2048),
  route: z.string().max(512),
  status: z.number().int(),
  remote: z.string().max(128),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

export const AuditAppend = z.object({
  type: z.literal("AuditAppend"), v: z.literal(1), at: z.number(),
  records: z.array(AuditRecord).max(MAX_AUDIT_BATCH),
  /** Keep at most this many records (newest). */
  maxRecords: z.number().int().positive(),
  /** Drop records older than `at` minus this. */
  maxAgeMs: z.number().int().positive(),
});

export const auditCommands = [AuditAppend] as const;

function applyAuditAppend(db: Db, index: number, cmd: z.infer<typeof AuditAppend>): CommandResult {
  cmd.records.forEach((r, i) => db.insert(auditLog).values({ seq: index * MAX_AUDIT_BATCH + i, ...r }).run());
  db.delete(auditLog).where(lt(auditLog.at, cmd.at - cmd.maxAgeMs)).run();
  const cut = db.select({ seq: auditLog.seq }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1).offset(cmd.maxRecords).get();
  if (cut) db.delete(auditLog).where(sql`${auditLog.seq} <= ${cut.seq}`).run();
  return { ok: true, value: cmd.records.length };
}

export const auditAppliers = {
  AuditAppend: { tables: ["audit_log"], apply: applyAuditAppend },
};
