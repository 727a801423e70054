// Job spec entry point: TOML or JSON text → a validated, normalized Job, or
// every problem found with its key path. Errors are values; nothing throws.
// The format is documented in docs/jobs.md.

import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { jobSchema } from "./jobspec/schema.ts";
import { normalizeJob } from "./jobspec/normalize.ts";
import type { JobSpecProblem, JobSpecResult } from "./jobspec/types.ts";
import { jobInterpolationErrors } from "./interpolate.ts";
import { resolveSubmissionNames } from "./jobspec/submission-names.ts";
import { knownKeysAt } from "../config/introspect.ts";
import { unknownKey } from "../config/issues.ts";

export type * from "./jobspec/types.ts";
export { parseDurationMs } from "./jobspec/duration.ts";
export { LIMITS as JOBSPEC_LIMITS } from "./jobspec/schema.ts";

/** Largest job document accepted, in characters. */
export const MAX_JOBSPEC_CHARS = 1_000_000;

export function parseJobSpec(text: string, format: "toml" | "json"): JobSpecResult {
  if (text.length > MAX_JOBSPEC_CHARS) {
    return { ok: false, errors: [{ path: "", message: `job spec is ${text.length} characters; the limit is ${MAX_JOBSPEC_CHARS}` }] };
  }
  const doc = decode(text, format);
  if (!doc.ok) return { ok: false, errors: [doc.error] };
  return validateJob(doc.value);
}

/** Validate an already-decoded document (e.g. a JSON request body). */
export function validateJob(value: unknown): JobSpecResult {
  const parsed = jobSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) return { ok: false, errors: toErrors(parsed.error.issues) };
  // Service and check names are final before anything (the ACL check, the stored spec) reads them.
  const named = resolveSubmissionNames(parsed.data);
  if (!named.ok) return { ok: false, errors: named.errors };
  const job = normalizeJob(named.job);
  // A reference no node can resolve is refused here, so no task is placed that cannot start.
  const unresolvable = jobInterpolationErrors(job);
  if (unresolvable.length) return { ok: false, errors: unresolvable };
  return { ok: true, job };
}

function decode(text: string, format: "toml" | "json"): { ok: true; value: unknown } | { ok: false; error: JobSpecProblem } {
  try {
    return { ok: true, value: format === "toml" ? parseToml(text) : JSON.parse(text) };
  } catch (e) {
    const err = e as Error & { line?: number; column?: number };
    // Only smol-toml's TomlError carries a document position; Bun's JSON
    // errors carry the line of the caller, which would mislead.
    const where = format === "toml" && err.line !== undefined ? ` at line ${err.line}, column ${err.column}` : "";
    const first = err.message.split("\n")[0];
    return { ok: false, error: { path: "", message: `${format.toUpperCase()} syntax error${where}: ${first}` } };
  }
}

/** "groups[0].tasks[1].resources.cpu" from ["groups", 0, "tasks", 1, "resources", "cpu"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function toErrors(issues: readonly z.core.$ZodIssue[]): JobSpecProblem[] {
  const errors: JobSpecProblem[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      // "unknown key (did you mean "count"?)": the config loader's wording and suggestions.
      const known = knownKeysAt(jobSchema, issue.path);
      for (const key of issue.keys) errors.push({ path: formatPath([...issue.path, key]), message: unknownKey([...issue.path, key], known).reason });
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      errors.push({ path: formatPath(issue.path), message: "required" });
    } else {
      errors.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return errors;
}
