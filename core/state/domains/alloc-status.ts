// UpdateAllocStatus: an agent reports what happened to its allocations.
// Agents send transitions only, and the applier enforces the rules that keep
// the record honest whatever an agent sends:
// - an agent only reports allocations placed on its own node;
// - a terminal client status (complete, failed, lost) is final: a late
//   "running" from an agent that was cut off cannot resurrect a lost
//   allocation that was already replaced elsewhere;
// - an update that changes nothing moves no index;
// - the allocations of a purged job are deleted once they have stopped.
// A v2 entry (several agents' reports, batched by the leader) applies each
// report as its own v1 entry would, in order, and refreshes each touched job
// once at the end; its result lists each report's outcome in the same order.
import type { z } from "zod";
import type { Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { statusReportsOf, type AllocStatusReport, type UpdateAllocStatus } from "./jobs-commands.ts";
import { collectGarbage, isTerminalClient, refreshJobStatus } from "./jobs-common.ts";
import { stableJson } from "../../stable-json.ts";
import { allocForReport, jobExists, setAllocClientStatus } from "./jobs-prepared.ts";

export function applyUpdateAllocStatus(db: Db, index: number, cmd: z.infer<typeof UpdateAllocStatus>): CommandResult {
  const touched = new Map<string, { namespace: string; jobId: string }>();
  const outcomes = statusReportsOf(cmd).map((r) => applyReport(db, index, r, touched));
  // Once per job per entry: a v2 entry carries many agents' reports on the same jobs, and the
  // refresh counts every allocation of the job (the state it leaves is that of refreshing after each).
  for (const j of touched.values()) {
    // A purged job's allocations go once they have stopped: no later plan would collect them.
    const exists = jobExists(db).get({ namespace: j.namespace, id: j.jobId });
    if (exists) refreshJobStatus(db, index, j.namespace, j.jobId);
    else collectGarbage(db, index, j.namespace, j.jobId, false);
  }
  return { ok: true, value: cmd.v === 1 ? outcomes[0]! : { reports: outcomes } };
}

/** One agent's report: its updates applied in order, the jobs they touched added to `touched`. */
function applyReport(
  db: Db, index: number, report: AllocStatusReport, touched: Map<string, { namespace: string; jobId: string }>,
): { updated: number; ignored: string[] } {
  const ignored: string[] = [];
  let updated = 0;
  for (const u of report.updates) {
    const a = allocForReport(db).get({ id: u.allocId });
    if (!a || a.nodeId !== report.nodeId || isTerminalClient(a.clientStatus)) {
      ignored.push(u.allocId);
      continue;
    }
    if (a.clientStatus === u.clientStatus && a.clientDescription === u.description && stableJson(a.taskStates) === stableJson(u.taskStates)) continue;
    setAllocClientStatus(db).run({
      clientStatus: u.clientStatus, clientDescription: u.description, taskStates: u.taskStates, at: report.at, index, id: u.allocId,
    });
    touched.set(`${a.namespace}\u0000${a.jobId}`, { namespace: a.namespace, jobId: a.jobId });
    updated++;
  }
  return { updated, ignored };
}
