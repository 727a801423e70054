// Policy rules: the text a policy carries (Consul's HCL or its JSON form, or
// corral's shorthand), validated and normalized into a flat list. Pure.
//
// Accepted shapes, all equivalent:
//   key_prefix "app/" { policy = "write" }                   (HCL)
//   {"key_prefix": {"app/": {"policy": "write"}}}            (Consul's JSON)
//   {"kv_prefix": {"app/": "write"}}                         (shorthand; kv = key)
// Unsegmented resources take a bare level: operator = "read", {"acl": "write"}.
//
// Intentions follow Consul: a service rule's `intentions` field grants
// intention access on that name; without it, service read or write grants
// intention read, and service deny denies intentions too.
import { parseHcl, RulesError } from "./hcl.ts";
import { SEGMENTED, UNSEGMENTED, type Access, type SegmentedResource, type UnsegmentedResource } from "./types.ts";

export { RulesError };

export interface Rule {
  resource: SegmentedResource;
  segment: string;
  prefix: boolean;
  access: Access;
}

export interface ParsedRules {
  rules: Rule[];
  unsegmented: Partial<Record<UnsegmentedResource, Access>>;
}

export const MAX_RULES_BYTES = 64 * 1024;
const MAX_RULES = 1_000;
const MAX_SEGMENT = 1_024;
const ACCESS = new Set<string>(["read", "write", "deny"]);
/** Consul's `list` level (KV) is accepted and read as `read`. */
const ALIASES: Record<string, string> = { kv: "key", kv_prefix: "key_prefix" };

function access(value: unknown, where: string): Access {
  if (typeof value === "string" && value === "list") return "read";
  if (typeof value !== "string" || !ACCESS.has(value)) {
    throw new RulesError(`${where}: access must be "read", "write" or "deny", got ${JSON.stringify(value)}`);
  }
  return value as Access;
}

/**
 * Nomad writes variable rules as paths with a trailing glob:
 * `variable "jobs/web/*"` is the prefix rule `variable_prefix "jobs/web/"`.
 * Only a whole trailing `/*` (or a lone `*`) is a glob, so "jobs/web*" stays
 * an exact name and cannot reach "jobs/web2" (docs/variables.md).
 */
function variableGlob(resource: SegmentedResource, written: string): { segment: string; prefix: boolean } {
  if (resource !== "variable") return { segment: written, prefix: false };
  if (written === "*") return { segment: "", prefix: true };
  if (written.endsWith("/*")) return { segment: written.slice(0, -1), prefix: true };
  return { segment: written, prefix: false };
}

/** One `name { segment: setting }` group, where setting is a level or {policy, intentions}. */
function segmentRules(resource: SegmentedResource, prefix: boolean, group: unknown, name: string, out: Rule[]) {
  const groups = Array.isArray(group) ? group : [group];
  for (const g of groups) {
    if (!g || typeof g !== "object" || Array.isArray(g)) throw new RulesError(`${name}: expected a map of names to access levels`);
    for (const [written, setting] of Object.entries(g as Record<string, unknown>)) {
      const { segment, prefix: globbed } = variableGlob(resource, written);
      const isPrefix = prefix || globbed;
      if (segment.length > MAX_SEGMENT) throw new RulesError(`${name}: a name is longer than ${MAX_SEGMENT} characters`);
      const where = `${name} ${JSON.stringify(segment)}`;
      let level: unknown = setting;
      let intentions: unknown;
      if (setting && typeof setting === "object" && !Array.isArray(setting)) {
        const s = setting as Record<string, unknown>;
        for (const k of Object.keys(s)) {
          if (k !== "policy" && !(k === "intentions" && resource === "service")) throw new RulesError(`${where}: unknown setting "${k}"`);
        }
        level = s.policy;
        intentions = s.intentions;
      }
      if (level === undefined && intentions === undefined) throw new RulesError(`${where}: needs a policy`);
      // Nomad's "list" (see paths, not items) has no level of its own here, and reading it as
      // "read", as Consul's KV list is, would hand out every item: refused, so no policy over-grants.
      if (resource === "variable" && level === "list") throw new RulesError(`${where}: variable rules take "read", "write" or "deny" ("list" would read items too)`);
      if (level !== undefined) out.push({ resource, segment, prefix: isPrefix, access: access(level, where) });
      if (resource !== "service") continue;
      const derived = intentions !== undefined ? access(intentions, `${where} intentions`) : access(level, where) === "deny" ? "deny" : "read";
      out.push({ resource: "intention", segment, prefix: isPrefix, access: derived });
    }
  }
}

/** Validates and flattens a rules document (already JSON-shaped). */
export function normalizeRules(doc: unknown): ParsedRules {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new RulesError("rules must be an object of rule names");
  const out: ParsedRules = { rules: [], unsegmented: {} };
  for (const [rawName, value] of Object.entries(doc as Record<string, unknown>)) {
    const name = ALIASES[rawName] ?? rawName;
    if ((UNSEGMENTED as readonly string[]).includes(name)) {
      out.unsegmented[name as UnsegmentedResource] = access(value, rawName);
      continue;
    }
    const prefix = name.endsWith("_prefix");
    const base = prefix ? name.slice(0, -"_prefix".length) : name;
    if (!(SEGMENTED as readonly string[]).includes(base) || base === "intention") {
      throw new RulesError(`unknown rule "${rawName}" (known: ${[...SEGMENTED.filter((s) => s !== "intention"), "kv", ...UNSEGMENTED].join(", ")}, and *_prefix forms)`);
    }
    segmentRules(base as SegmentedResource, prefix, value, rawName, out.rules);
    if (out.rules.length > MAX_RULES) throw new RulesError(`more than ${MAX_RULES} rules`);
  }
  return out;
}

/** Parses a policy's Rules text: JSON when it starts with "{", HCL otherwise. Throws RulesError. */
export function parseRules(text: string): ParsedRules {
  if (text.length > MAX_RULES_BYTES) throw new RulesError(`rules are longer than ${MAX_RULES_BYTES} bytes`);
  const trimmed = text.trim();
  if (trimmed === "") return { rules: [], unsegmented: {} };
  if (trimmed.startsWith("{")) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new RulesError(`rules are not valid JSON: ${(err as Error).message}`);
    }
    return normalizeRules(doc);
  }
  return normalizeRules(parseHcl(trimmed));
}
