// The applier registry: command type -> (tables it touches, apply function).
// Adding a domain = one spread here and one in commands.ts.
import type { Db } from "../store/db.ts";
import type { Command, CommandOf, CommandType } from "./commands.ts";
import type { CommandResult } from "./result.ts";
import { nodeAppliers } from "./domains/nodes.ts";
import { kvAppliers } from "./domains/kv.ts";
import { kvTombstoneAppliers } from "./domains/kv-tombstones.ts";
import { catalogTombstoneAppliers } from "./domains/catalog-tombstones.ts";
import { restoreAppliers } from "./domains/restore.ts";
import { catalogAppliers } from "./domains/catalog.ts";
import { clusterEventAppliers } from "./domains/cluster-events.ts";
import { nodeHealthAppliers } from "./domains/node-health.ts";
import { jobAppliers } from "./domains/jobs.ts";
import { aclAppliers } from "./domains/acl.ts";
import { intentionAppliers } from "./domains/intentions.ts";
import { auditAppliers } from "./domains/audit.ts";
import { invalidateUnhealthySessions, sessionAppliers } from "./domains/sessions.ts";
import { txnAppliers } from "./domains/txn.ts";
import { launchAppliers } from "./domains/launches.ts";
import { deploymentAppliers } from "./domains/deployments.ts";
import { allocStopAppliers } from "./domains/alloc-stop.ts";
import { gcAppliers } from "./domains/gc.ts";
import { variableAppliers } from "./domains/variables.ts";
import { variableTombstoneAppliers } from "./domains/variable-tombstones.ts";

export interface Applier<T extends CommandType> {
  /** State tables the command may change: blocking queries on them wake up. */
  tables: readonly string[];
  /**
   * The entry moves indexes without leaving the rows the keyed wakeups read
   * (fsm.ts): every keyed waiter of its tables wakes, as after a restore.
   */
  namesNoKeys?: boolean;
  apply(db: Db, index: number, cmd: CommandOf<T>): CommandResult;
}

export type ApplierRegistry = { [T in CommandType]: Applier<T> };

export const appliers: ApplierRegistry = {
  Noop: { tables: [], apply: () => ({ ok: true }) },
  ...nodeAppliers,
  ...kvAppliers,
  ...kvTombstoneAppliers,
  ...restoreAppliers,
  ...catalogAppliers,
  ...catalogTombstoneAppliers,
  ...clusterEventAppliers,
  ...nodeHealthAppliers,
  ...jobAppliers,
  ...aclAppliers,
  ...intentionAppliers,
  ...auditAppliers,
  ...sessionAppliers,
  ...txnAppliers,
  ...launchAppliers,
  ...deploymentAppliers,
  ...allocStopAppliers,
  ...gcAppliers,
  ...variableAppliers,
  ...variableTombstoneAppliers,
};

/** Tables whose change can make a session unhealthy (its node, its checks). */
const HEALTH_TABLES = new Set(["nodes", "checks", "catalog_nodes"]);

/**
 * Every command that changes nodes or checks also invalidates, in the same
 * entry, the sessions that change left unhealthy (node down or gone, a
 * check critical or gone): Consul does it where it writes the check, and
 * doing it here covers every such command, present and future, in one place.
 */
function withSessionHealth(registry: ApplierRegistry): void {
  const r = registry as Record<string, Applier<CommandType>>;
  for (const [type, a] of Object.entries(r)) {
    if (!a.tables.some((t) => HEALTH_TABLES.has(t))) continue;
    r[type] = {
      tables: [...new Set([...a.tables, "sessions", "kv"])],
      apply(db, index, cmd) {
        const result = a.apply(db, index, cmd);
        if (result.ok) invalidateUnhealthySessions(db, index, cmd.at);
        return result;
      },
    };
  }
}
withSessionHealth(appliers);

export function applierFor(cmd: Command): Applier<CommandType> | undefined {
  return (appliers as Record<string, Applier<CommandType>>)[cmd.type];
}

/** Every state table some command touches. */
export function allTables(): string[] {
  return [...new Set(Object.values(appliers).flatMap((a) => a.tables))].filter((t) => t !== "*");
}

/** The tables a command touches, with "*" (a restore) meaning all of them. */
export function tablesOf(cmd: Command): readonly string[] {
  const t = applierFor(cmd)?.tables ?? [];
  return t.includes("*") ? allTables() : t;
}
