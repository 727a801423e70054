// Log entry format versions. Every command carries `type` and `v` (its
// schema version, commands.ts); a release applies every version it ever
// shipped. An entry this binary does not know — a type added, or a `v`
// raised, by a newer release — was valid where it was proposed (proposals
// are validated, validate-proposal.ts), so refusing it here, as a bad entry
// is refused, would leave this replica's state different from the newer
// ones'. It is a NewerFormatError instead: the node stops, naming the entry
// and what to do (upgrade this node), and applies it once upgraded.
import { Command } from "./commands.ts";

export class NewerFormatError extends Error {
  override name = "NewerFormatError";
}

type Schema = { shape?: Record<string, unknown>; values?: Set<unknown>; options?: unknown[]; value?: unknown };

/** The literal values a zod literal (or union of literals) accepts. */
function literals(s: unknown): unknown[] {
  const z = s as Schema;
  if (z?.values instanceof Set) return [...z.values];
  if (Array.isArray(z?.options)) return z.options.flatMap(literals);
  return z?.value !== undefined ? [z.value] : [];
}

let known: Map<string, number[]> | undefined;

/** type → the `v` values this binary applies, read from the command schemas themselves. */
export function knownCommandVersions(): Map<string, number[]> {
  if (known) return known;
  known = new Map();
  for (const o of (Command as unknown as { options: Schema[] }).options) {
    const type = literals(o.shape?.type)[0];
    const versions = literals(o.shape?.v).filter((v): v is number => typeof v === "number");
    if (typeof type === "string") known.set(type, versions);
  }
  return known;
}

/**
 * Why a decoded log entry is from a newer release, or undefined when this
 * binary knows its type and version. Malformed entries (no type, a `v` that
 * is not a number) are not "newer": their appliers refuse them as before.
 */
export function newerFormatProblem(index: number, command: unknown): string | undefined {
  const c = command as { type?: unknown; v?: unknown } | null;
  if (!c || typeof c !== "object" || typeof c.type !== "string" || typeof c.v !== "number") return undefined;
  const versions = knownCommandVersions().get(c.type);
  if (!versions) return `log entry ${index} is a ${c.type} command, which this corral does not know (written by a newer release); upgrade corral on this node`;
  const max = Math.max(...versions);
  if (c.v > max) return `log entry ${index}: ${c.type} command version ${c.v} is newer than this corral applies (up to ${max}); upgrade corral on this node`;
  return undefined;
}
