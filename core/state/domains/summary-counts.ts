// Counts behind GET /v1/summary (the dashboard's overview): how many jobs,
// nodes and live allocations there are, by status, without reading a list.
// A token that reads everything gets one GROUP BY per table; a narrow token
// gets the counts of what it may read, from the narrowest columns (a name and
// a status per row), so a count never tells what it may not see.
import { clientOf, type Db } from "../../store/db.ts";

export type StatusCounts = Record<string, number>;

/** `readable(name)`: whether the token reads that job (by ID) or node (by name); absent: everything. */
export interface SummaryCounts {
  jobs(readable?: (jobId: string) => boolean): StatusCounts;
  nodes(readable?: (nodeName: string) => boolean): StatusCounts;
  /** Allocations that should run (desired "run"), by client status, of the jobs the token reads. */
  allocations(readable?: (jobId: string) => boolean): StatusCounts;
}

function tally(rows: { name: string; status: string }[], readable: (name: string) => boolean): StatusCounts {
  const out: StatusCounts = {};
  for (const r of rows) if (readable(r.name)) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

function grouped(rows: { status: string; n: number }[]): StatusCounts {
  const out: StatusCounts = {};
  for (const r of rows) out[r.status] = r.n;
  return out;
}

export function createSummaryCounts(db: Db): SummaryCounts {
  const client = clientOf(db);
  // Prepared lazily, once: the overview asks again on every change.
  const stmts = new Map<string, ReturnType<typeof client.prepare>>();
  const all = <T>(sqlText: string): T[] => {
    let s = stmts.get(sqlText);
    if (!s) stmts.set(sqlText, (s = client.prepare(sqlText)));
    return s.all() as T[];
  };
  return {
    jobs: (readable) =>
      readable
        ? tally(all("SELECT id AS name, status FROM jobs"), readable)
        : grouped(all("SELECT status, count(*) AS n FROM jobs GROUP BY status")),
    nodes: (readable) =>
      readable
        ? tally(all("SELECT name, status FROM nodes"), readable)
        : grouped(all("SELECT status, count(*) AS n FROM nodes GROUP BY status")),
    allocations: (readable) =>
      readable
        ? tally(all("SELECT job_id AS name, client_status AS status FROM allocations WHERE desired_status = 'run'"), readable)
        : grouped(all("SELECT client_status AS status, count(*) AS n FROM allocations WHERE desired_status = 'run' GROUP BY client_status")),
  };
}

export const emptySummaryCounts: SummaryCounts = { jobs: () => ({}), nodes: () => ({}), allocations: () => ({}) };
