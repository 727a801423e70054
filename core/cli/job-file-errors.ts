// A job file the server refused, told as the config loader tells a bad
// config: every problem the API returned (400 INVALID_JOB carries them all,
// core/scheduler/jobspec.ts), each as `FILE:LINE:COLUMN: key.path: reason`,
// in file order. Key paths come back as "groups[0].tasks[1].comand"; the
// line is found in the file the user wrote (TOML: core/config/locate.ts,
// JSON: json-locate.ts). The reasons already carry "did you mean".
import { KeyLocator } from "../config/locate.ts";
import { ClientError } from "./client.ts";
import { JsonLocator, type Position } from "./json-locate.ts";

export interface JobSpecProblem {
  path: string;
  message: string;
}

/** "groups[0].tasks[1].comand" → ["groups", 0, "tasks", 1, "comand"]. */
export function splitKeyPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** Where `path` is written in the job file's text (its nearest written ancestor when it is missing there). */
export function positionIn(text: string, format: "toml" | "json", path: string): Position | undefined {
  const keys = splitKeyPath(path);
  if (keys.length === 0) return undefined;
  if (format === "json") return new JsonLocator(text).positionOf(keys);
  const line = new KeyLocator(text).lineOf(keys);
  if (line === undefined) return undefined;
  // Column of the key's own name on that line, when it is written there.
  const last = keys.findLast((k) => typeof k === "string") as string | undefined;
  const written = text.split("\n")[line - 1] ?? "";
  const escaped = (last ?? "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const col = last === undefined ? -1 : written.search(new RegExp(`(?<![A-Za-z0-9_-])${escaped}(?![A-Za-z0-9_-])`));
  return { line, column: col + 1 || 1 };
}

/** One line per problem, located in `file`, sorted by position (unlocated ones last). */
export function jobFileProblemLines(file: string, text: string, format: "toml" | "json", problems: readonly JobSpecProblem[]): string[] {
  return problems
    .map((p, n) => ({ p, n, pos: positionIn(text, format, p.path) }))
    .sort((a, b) => (a.pos?.line ?? Infinity) - (b.pos?.line ?? Infinity) || (a.pos?.column ?? 0) - (b.pos?.column ?? 0) || a.n - b.n)
    .map(({ p, pos }) => `${file}${pos ? `:${pos.line}:${pos.column}` : ""}: ${p.path ? p.path + ": " : ""}${p.message}`);
}

/**
 * Run a request that submits the job file; when the server refuses the
 * document, print every problem on stderr and answer exit status 1
 * instead of throwing. Other errors pass through.
 */
export async function submittingJobFile<T>(file: string, text: string, contentType: string, send: () => Promise<T>): Promise<T | number> {
  try {
    return await send();
  } catch (err) {
    const problems = err instanceof ClientError ? (err.body as { errors?: JobSpecProblem[] } | undefined)?.errors : undefined;
    if (!(err instanceof ClientError) || err.code !== "INVALID_JOB" || !Array.isArray(problems) || problems.length === 0) throw err;
    const format = contentType.includes("json") ? "json" : "toml";
    const lines = jobFileProblemLines(file, text, format, problems);
    process.stderr.write(`corral: ${file} is not a valid job (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.map((l) => "  " + l).join("\n")}\n`);
    return 1;
  }
}
