// The allocations the health watcher looks at each second, kept current
// from what changed rather than read again every tick (pure: rows in).
//
// Each tick needs (1) every allocation awaiting a health verdict and (2)
// every allocation of each job with a running deployment. Both were read
// from SQLite every second: during a burst of rollouts that is every
// rolling-out job's allocations, each second, growing with the burst. Here
// they are read once, then followed: the watcher hands over the rows written
// since its last tick (each replaces its previous version) and, for a job
// whose deployment just started, that job's rows. A deletion (garbage
// collection, a purge) names only nodes, not rows: the watcher then reads
// everything again (rare next to a tick a second).
//
// Verdicts still depend on the clock and on checks (allocHealth), so every
// candidate is assessed every tick; what is saved is reading and decoding the
// rows. Equality with a fresh read is tested over random sequences
// (test/jobs/watched-allocs.test.ts).
import type { AllocLean } from "../../state/domains/jobs-read.ts";

/** The same test as the healthCandidates read: live service allocations without a verdict. */
export function isHealthCandidate(a: Pick<AllocLean, "desiredStatus" | "clientStatus" | "health" | "jobType">): boolean {
  return a.desiredStatus === "run" && (a.clientStatus === "pending" || a.clientStatus === "running") && a.health === "" && a.jobType === "service";
}

const key = (namespace: string, jobId: string) => `${namespace}\u0000${jobId}`;

/** A job's rows in the order its read returns them (create index, then id). */
function byCreation(a: AllocLean, b: AllocLean): number {
  return a.createIndex - b.createIndex || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class WatchedAllocs {
  private candidateRows = new Map<string, AllocLean>();
  /** Jobs followed in full (a running deployment): id → row, and the rows sorted once per change. */
  private jobs = new Map<string, { rows: Map<string, AllocLean>; sorted?: AllocLean[] }>();

  constructor(candidates: readonly AllocLean[]) {
    for (const a of candidates) this.candidateRows.set(a.id, a);
  }

  /** One allocation row as it is now. */
  apply(row: AllocLean): void {
    if (isHealthCandidate(row)) this.candidateRows.set(row.id, row);
    else this.candidateRows.delete(row.id);
    const job = this.jobs.get(key(row.namespace, row.jobId));
    if (job) {
      job.rows.set(row.id, row);
      job.sorted = undefined;
    }
  }

  /** Allocations awaiting a verdict. */
  candidates(): AllocLean[] {
    return [...this.candidateRows.values()];
  }

  isFollowed(namespace: string, jobId: string): boolean {
    return this.jobs.has(key(namespace, jobId));
  }

  /** Follow a job in full from these rows (its deployment is running). */
  follow(namespace: string, jobId: string, rows: readonly AllocLean[]): void {
    this.jobs.set(key(namespace, jobId), { rows: new Map(rows.map((r) => [r.id, r])) });
  }

  /** Stop following jobs whose deployment is no longer running. */
  keepOnly(jobs: readonly { namespace: string; jobId: string }[]): void {
    const keep = new Set(jobs.map((j) => key(j.namespace, j.jobId)));
    for (const k of this.jobs.keys()) if (!keep.has(k)) this.jobs.delete(k);
  }

  /** Every allocation of a followed job (create index order), or undefined when it is not followed. */
  jobAllocs(namespace: string, jobId: string): AllocLean[] | undefined {
    const job = this.jobs.get(key(namespace, jobId));
    if (!job) return undefined;
    return (job.sorted ??= [...job.rows.values()].sort(byCreation));
  }
}
