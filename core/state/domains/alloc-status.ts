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
// Each report is applied on its own: one that throws (a row it cannot read,
// an applier bug) is rolled back and answered with its error, as its v1
// entry alone would be refused, and its batch-mates apply. No valid report
// throws in practice, so the reports first go together in one savepoint; only
// if one throws is that rolled back and each applied again in a savepoint of
// its own: a savepoint per report, always, doubled the applier's time
// (1.94-2.04x over 256-report entries, nested in the Fsm's own savepoint as
// in production), where one for them all measured 0.96-1.01x. The same
// state fails the same way on every replica, so they all keep the same
// reports. A storage failure still stops the node (apply-failure.ts).
import type { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { applyFailedResult, isStorageFailure } from "../apply-failure.ts";
import { forgetAllNodeUsage } from "./node-usage.ts";
import { statusReportsOf, type AllocStatusReport, type UpdateAllocStatus } from "./jobs-commands.ts";
import { collectGarbage, isTerminalClient, refreshJobStatus } from "./jobs-common.ts";
import { stableJson } from "../../stable-json.ts";
import { allocForReport, jobExists, setAllocClientStatus } from "./jobs-prepared.ts";

type Touched = Map<string, { namespace: string; jobId: string }>;
type ReportOutcome = { updated: number; ignored: string[] };
/** A v2 report that threw: rolled back alone; its proposer is answered with this refusal (status-report-batch.ts). */
export type ReportRefusal = { refused: { code: "APPLY_FAILED"; message: string } };

export function applyUpdateAllocStatus(db: Db, index: number, cmd: z.infer<typeof UpdateAllocStatus>): CommandResult {
  const touched: Touched = new Map();
  // v1: one report, the entry's own savepoint (fsm.ts) is its isolation.
  const outcomes = cmd.v === 1 ? [applyReport(db, index, statusReportsOf(cmd)[0]!, touched)] : applyReports(db, index, statusReportsOf(cmd), touched);
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

/** A v2 entry's reports: all in one savepoint; if one throws, again, each in a savepoint of its own. */
function applyReports(db: Db, index: number, reports: AllocStatusReport[], touched: Touched): (ReportOutcome | ReportRefusal)[] {
  const own: Touched = new Map();
  try {
    const out = clientOf(db).transaction(() => reports.map((r) => applyReport(db, index, r, own)))();
    for (const [k, j] of own) touched.set(k, j);
    return out;
  } catch (err) {
    if (isStorageFailure(err)) throw err;
  }
  forgetAllNodeUsage(db);
  return reports.map((r) => applyReportAlone(db, index, r, touched));
}

/** One report of a v2 entry in a savepoint of its own: applied whole, or rolled back and refused alone. */
function applyReportAlone(db: Db, index: number, report: AllocStatusReport, touched: Touched): ReportOutcome | ReportRefusal {
  const own: Touched = new Map();
  try {
    const out = clientOf(db).transaction(() => applyReport(db, index, report, own))();
    for (const [k, j] of own) touched.set(k, j);
    return out;
  } catch (err) {
    if (isStorageFailure(err)) throw err;
    // As the Fsm does for a failed entry: rows read inside the rolled-back part are not kept.
    forgetAllNodeUsage(db);
    const { code, message } = applyFailedResult(err);
    return { refused: { code, message } };
  }
}

/** One agent's report: its updates applied in order, the jobs they touched added to `touched`. */
function applyReport(db: Db, index: number, report: AllocStatusReport, touched: Touched): ReportOutcome {
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
