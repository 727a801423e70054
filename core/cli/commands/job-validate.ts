// `corral job validate FILE`: ask a node whether a job file is valid
// (POST /v1/validate/job); nothing is registered. Every problem is printed
// with its key path and where the file says it (core/cli/job-file-errors.ts),
// exactly as `job run` and `job plan` print them.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { submittingJobFile } from "../job-file-errors.ts";
import { readJobFile } from "./job-run.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const jobValidateSpec: CommandSpec = {
  name: "job validate",
  summary: "Check a job file (TOML or JSON) without registering it: every problem with its key path, line and column.",
  usage: "corral job validate FILE [--addr URL] [--token TOKEN]",
  details: "Exit status: 0 when the file is a valid job, 1 when it is not.",
  flags: { ...clientFlags },
};

export async function jobValidate(args: Parsed): Promise<number> {
  const file = args.positionals[0];
  if (!file || args.positionals.length > 1) throw new UsageError("expected one FILE");
  const { body, contentType } = readJobFile(file);
  const out = await submittingJobFile(file, body, contentType, () =>
    clientFrom(args).request<{ jobId: string; namespace: string }>("POST", "/v1/validate/job", body, contentType));
  if (typeof out === "number") return out;
  process.stdout.write(`Job validation successful: "${out.jobId}" (namespace ${out.namespace})\n`);
  return 0;
}
