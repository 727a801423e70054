// What a variable may look like (docs/variables.md, "Limits"). Pure.
import { z } from "zod";

/** Longest path, in characters (Nomad's limit). */
export const MAX_PATH_CHARS = 128;
/** Most items one variable holds. */
export const MAX_ITEMS = 64;
/** Longest item key. */
export const MAX_ITEM_KEY_CHARS = 128;
/** Largest total of item keys and values, in UTF-8 bytes (Nomad's 64 KiB). */
export const MAX_ITEMS_BYTES = 64 * 1024;

/**
 * Letters, digits, `-`, `_`, `~`, `.` and `/` as separator; no empty segment
 * (leading, trailing or doubled `/`) and no `.` or `..` segment, so a path
 * names one place and a rule on `jobs/web/` cannot be walked around.
 */
const PATH_RE = /^[A-Za-z0-9_~.-]+(\/[A-Za-z0-9_~.-]+)*$/;

export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return "a variable path is required";
  if (path.length > MAX_PATH_CHARS) return `the path is longer than ${MAX_PATH_CHARS} characters`;
  if (!PATH_RE.test(path)) return "the path may hold only letters, digits and - _ ~ . with / between non-empty segments";
  if (path.split("/").some((s) => s === "." || s === "..")) return 'the path may not hold a "." or ".." segment';
  return undefined;
}

export const ItemKey = z.string().min(1).max(MAX_ITEM_KEY_CHARS).regex(/^[A-Za-z0-9_.-]+$/, "item keys hold letters, digits and - _ . only");

export const VariableBody = z.object({
  Items: z.record(z.string(), z.string()),
  Namespace: z.string().max(128).optional(),
  Path: z.string().optional(),
}).passthrough();

/** Why these items are refused, with the status to answer: 400 for shape and count, 413 for size. */
export function itemsProblem(items: Record<string, string>): { status: 400 | 413; message: string } | undefined {
  const keys = Object.keys(items);
  if (keys.length === 0) return { status: 400, message: "a variable needs at least one item" };
  if (keys.length > MAX_ITEMS) return { status: 400, message: `a variable holds at most ${MAX_ITEMS} items, got ${keys.length}` };
  for (const k of keys) {
    const r = ItemKey.safeParse(k);
    if (!r.success) return { status: 400, message: `item key ${JSON.stringify(k.slice(0, 140))}: ${r.error.issues[0]?.message}` };
  }
  let bytes = 0;
  for (const [k, v] of Object.entries(items)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (bytes > MAX_ITEMS_BYTES) return { status: 413, message: `the items total ${bytes} bytes, more than the ${MAX_ITEMS_BYTES} a variable may hold` };
  return undefined;
}
