// Config problems: one issue per problem, located (`file:line: key.path:
// reason`), and the translation of zod's issues into plain reasons ("expected
// an integer, got the string \"x\"", "unknown key (did you mean ...)").
import type { z } from "zod";
import { describeValue, suggest } from "./introspect.ts";

export interface ConfigIssue {
  /** The config file path, or "env" / "flags" when the value came from there. */
  file: string;
  line?: number;
  /** Dotted TOML key path ("node.http_port", "leader.peers[1]"), an env var name, or a flag ("--http-port"). */
  keyPath: string;
  reason: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}${i.line !== undefined ? `:${i.line}` : ""}: ${i.keyPath}: ${i.reason}`;
}

export class ConfigError extends Error {
  file: string;
  line?: number;
  keyPath: string;
  reason: string;
  /** Every problem found (at least one); the fields above are issues[0]'s. */
  issues: ConfigIssue[];

  constructor(issue: ConfigIssue | ConfigIssue[]) {
    const issues = Array.isArray(issue) ? issue : [issue];
    if (issues.length === 0) throw new TypeError("ConfigError needs at least one issue");
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    const first = issues[0]!;
    this.file = first.file;
    if (first.line !== undefined) this.line = first.line;
    this.keyPath = first.keyPath;
    this.reason = first.reason;
    this.issues = issues;
  }
}

export type Path = PropertyKey[];

export interface RawIssue {
  path: Path;
  reason: string;
}

/** Render a path as a TOML-style dotted key: node.bind, leader.peers[1], plugins."my.plugin".x */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const s = String(seg);
      const k = /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s);
      out += out === "" ? k : `.${k}`;
    }
  }
  return out === "" ? "(root)" : out;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "an array",
  object: "a table",
  record: "a table",
  bigint: "an integer",
  date: "a date-time",
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg as string];
  }
  return v;
}

/** Turn zod issues into located raw issues (path + reason). */
export function fromZod(
  issues: readonly z.core.$ZodIssue[],
  prefix: Path,
  data: unknown,
  knownKeys: (path: Path) => string[],
  out: RawIssue[],
): void {
  for (const iss of issues) {
    const path = [...prefix, ...iss.path];
    switch (iss.code) {
      case "unrecognized_keys":
        for (const k of iss.keys) out.push(unknownKey([...path, k], knownKeys(path)));
        break;
      case "invalid_type": {
        const exp = EXPECTED[iss.expected] ?? iss.expected;
        out.push({ path, reason: `expected ${exp}, got ${describeValue(valueAt(data, iss.path))}` });
        break;
      }
      case "invalid_value": {
        const got = valueAt(data, iss.path);
        const opts = iss.values.map((x) => JSON.stringify(x)).join(", ");
        out.push({ path, reason: `must be one of ${opts}; got ${got === undefined ? "nothing" : JSON.stringify(got)}` });
        break;
      }
      case "invalid_union": {
        // one branch's first issue is more useful than "Invalid input"
        const branch = iss.errors.find((e) => e.length > 0);
        if (branch) fromZod(branch.slice(0, 1), path, valueAt(data, iss.path), () => [], out);
        else out.push({ path, reason: iss.message });
        break;
      }
      default:
        out.push({ path, reason: iss.message });
    }
  }
}

export function unknownKey(path: Path, known: readonly string[]): RawIssue {
  const key = String(path[path.length - 1]);
  const s = suggest(key, known);
  return { path, reason: s ? `unknown key (did you mean "${s}"?)` : "unknown key" };
}

/** File issues by line, then env, then flags; duplicates dropped. */
export function sortIssues(issues: ConfigIssue[], fileLabel: string): ConfigIssue[] {
  const rank = (i: ConfigIssue) => (i.file === fileLabel ? 0 : i.file === "env" ? 1 : 2);
  const seen = new Set<string>();
  return issues
    .map((i, n) => ({ i, n }))
    .sort(
      (a, b) =>
        rank(a.i) - rank(b.i) ||
        (a.i.line ?? Number.MAX_SAFE_INTEGER) - (b.i.line ?? Number.MAX_SAFE_INTEGER) ||
        a.n - b.n,
    )
    .map((x) => x.i)
    .filter((i) => {
      const k = formatIssue(i);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}
