// What a zod schema knows about a TOML document's keys, for error messages:
// the keys an object schema accepts at a path, the keys a plain z.object
// would silently strip, the closest known key to a typo, and how a bad
// value is named. Pure functions over zod's schema definitions.
import type { z } from "zod";

/** "the string \"x\"", "the integer 5", "a table": how a bad value is named in errors. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  if (typeof v === "number" || typeof v === "bigint") {
    return Number.isInteger(Number(v)) ? `the integer ${v}` : `the number ${v}`;
  }
  if (typeof v === "boolean") return `the boolean ${v}`;
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date-time";
  if (isTable(v)) return "a table";
  return `a ${typeof v}`;
}

export function isTable(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

interface AnyDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  getter?: () => z.ZodType;
}

function defOf(s: z.ZodType): AnyDef {
  return (s as unknown as { _zod: { def: AnyDef } })._zod.def;
}

/** Peel wrappers (default, optional, pipe/transform, lazy, ...) off a schema. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let guard = 0; guard < 64; guard++) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else if (d.type === "lazy" && d.getter) s = d.getter();
    else break;
  }
  return s;
}

/** The object schema found by following `path` (keys and array indexes) from `schema`. */
export function objectSchemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s = unwrapSchema(schema);
  for (const seg of path) {
    const d = defOf(s);
    if (d.type === "object" && d.shape && typeof seg === "string" && seg in d.shape) s = unwrapSchema(d.shape[seg]!);
    else if (d.type === "array" && d.element && (typeof seg === "number" || /^\d+$/.test(String(seg)))) {
      s = unwrapSchema(d.element);
    } else return undefined;
  }
  return defOf(s).type === "object" ? s : undefined;
}

/** Keys an object schema at `path` knows, or [] when there is none. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const o = objectSchemaAt(schema, path);
  return o ? Object.keys(defOf(o).shape ?? {}) : [];
}

/**
 * Unknown keys in `value` that `schema` would silently strip (plain
 * `z.object`). Strict objects report their own; loose/catchall objects accept
 * anything. Used so that `[plugins.<name>]` typos are errors even when the
 * plugin's schema is not strict. Returns [path of parent, key] pairs.
 */
export function strippedKeys(
  schema: z.ZodType,
  value: unknown,
  path: PropertyKey[] = [],
  out: Array<[PropertyKey[], string]> = [],
): Array<[PropertyKey[], string]> {
  const s = unwrapSchema(schema);
  const d = defOf(s);
  if (d.type === "object" && d.shape && isTable(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k in d.shape) strippedKeys(d.shape[k]!, v, [...path, k], out);
      else if (d.catchall === undefined) out.push([path, k]);
    }
  } else if (d.type === "array" && d.element && Array.isArray(value)) {
    value.forEach((v, i) => strippedKeys(d.element!, v, [...path, i], out));
  }
  return out;
}

/** Levenshtein distance, small and plain. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within edit distance 2 (ignoring case and -/_ differences), if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = Math.min(editDistance(word, c), editDistance(norm(word), norm(c)));
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
