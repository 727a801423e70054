// `corral job history ID [-p]`, `corral job revert ID VERSION`, and the
// lines `job plan` prints for the diff against the running version
// (Nomad's job history, job revert and job plan output).
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { formatJobDiff } from "../../scheduler/job-diff-format.ts";
import type { JobDiff } from "../../scheduler/job-diff.ts";
import { clientFlags, clientFrom } from "./shared.ts";

const nsFlag = { namespace: { type: "string" as const, value: "NS", help: "Namespace of the job (default \"default\")" } };
const nsQuery = (args: Parsed) => `?namespace=${encodeURIComponent((args.flags.namespace as string | undefined) ?? "default")}`;

export const jobHistorySpec: CommandSpec = {
  name: "job history",
  summary: "List the versions a job keeps, newest first; with -p, what changed in each from the one before.",
  usage: "corral job history ID [-p] [--namespace NS] [--json] [--addr URL] [--token TOKEN]",
  flags: { diff: { type: "boolean", short: "p", help: "Show the diff between each version and the previous one" }, ...nsFlag, ...clientFlags },
};

export const jobRevertSpec: CommandSpec = {
  name: "job revert",
  summary: "Revert a job to an earlier version: that version's spec is registered as a new version and rolled out.",
  usage: "corral job revert ID VERSION [--enforce-prior-version N] [--namespace NS] [--json] [--addr URL] [--token TOKEN]",
  details: "VERSION is one `corral job history ID` lists. Reverting to the current version is refused.",
  flags: {
    "enforce-prior-version": { type: "number", value: "N", help: "Revert only if the job's current version is still N" },
    ...nsFlag, ...clientFlags,
  },
};

interface VersionsJson {
  Versions: { Version: number; Stable: boolean; Current: boolean; SubmittedAt?: number; Job: { priority: number; type: string } }[];
  Diffs?: JobDiff[];
  JobModifyIndex: number;
}

/** Nomad's "Submit Date" (RFC 3339, UTC, whole seconds); "-" for a version kept from before submit times were recorded. */
export function submitDate(ms: number | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "-";
}

export async function jobHistory(args: Parsed): Promise<number> {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one job ID");
  const diffs = args.flags.diff === true;
  const out = await clientFrom(args).get<VersionsJson>(`/v1/job/${encodeURIComponent(id)}/versions${nsQuery(args)}${diffs ? "&diffs=true" : ""}`);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  const blocks = out.Versions.map((v, i) => {
    const lines = [
      `Version     = ${v.Version}${v.Current ? " (current)" : ""}`,
      `Stable      = ${v.Stable}`,
      `Submit Date = ${submitDate(v.SubmittedAt)}`,
    ];
    const d = out.Diffs?.[i];
    if (d) lines.push(`Diff        =`, ...formatJobDiff(d).map((l) => "  " + l));
    return lines.join("\n");
  });
  process.stdout.write(blocks.join("\n\n") + "\n");
  return 0;
}

export async function jobRevert(args: Parsed): Promise<number> {
  const [id, raw] = args.positionals;
  if (!id || raw === undefined || args.positionals.length > 2) throw new UsageError("expected a job ID and a VERSION");
  if (!/^\d{1,9}$/.test(raw)) throw new UsageError(`VERSION must be a whole number, not ${JSON.stringify(raw)}`);
  const prior = args.flags["enforce-prior-version"] as number | undefined;
  const body: Record<string, number> = { JobVersion: Number(raw) };
  if (prior !== undefined) body.EnforcePriorVersion = prior;
  const out = await clientFrom(args).post<{ version: number; evalId: string; changed: boolean }>(`/v1/job/${encodeURIComponent(id)}/revert${nsQuery(args)}`, body);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(out) + "\n");
    return 0;
  }
  process.stdout.write(out.changed
    ? `Job "${id}" reverted to version ${raw}: registered as version ${out.version}, evaluation ${out.evalId}\n`
    : `Job "${id}" already runs the spec of version ${raw} (version ${out.version}); re-evaluated, evaluation ${out.evalId}\n`);
  return 0;
}

/** `job plan`'s diff block and its closing check-index hint. */
export function planDiffLines(plan: { diff?: JobDiff; jobModifyIndex?: number }, file: string): { diff: string[]; hint: string[] } {
  const diff = plan.diff ? formatJobDiff(plan.diff) : [];
  const n = plan.jobModifyIndex;
  const hint = n === undefined ? [] : [
    `Job Modify Index: ${n}`,
    "To submit the job with version verification run:",
    "",
    `corral job run --check-index ${n} ${file}`,
    "",
    "When running the job with the check-index flag, the job will only be run if the",
    "job modify index given matches the server-side version. If the index has",
    "changed, another user has modified the job and the plan's results are",
    "potentially invalid.",
  ];
  return { diff, hint };
}
