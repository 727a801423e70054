// Service-to-service intentions: may `source` call `destination`? Pure.
//
// Precedence follows Consul's table (namespaces and partitions left out):
//   source exact,    destination exact  → 9
//   source wildcard, destination exact  → 8   ("*" → "web")
//   source exact,    destination wildcard → 6 ("web" → "*")
//   source wildcard, destination wildcard → 5
// (Consul ranks a wildcard *source* to an exact destination above an exact
// source to a wildcard destination: the destination owns its intentions.)
// The matching intention with the highest precedence decides; none matches:
// `defaultAllow` (the ACL default policy, or allow when ACLs are off).
export const WILDCARD = "*";

export interface IntentionRule {
  source: string;
  destination: string;
  action: "allow" | "deny";
}

export function precedence(i: { source: string; destination: string }): number {
  const srcExact = i.source !== WILDCARD;
  const dstExact = i.destination !== WILDCARD;
  if (srcExact && dstExact) return 9;
  if (!srcExact && dstExact) return 8;
  if (srcExact && !dstExact) return 6;
  return 5;
}

/** Service names compare case-insensitively, as the catalog looks them up and ACL rules match them (core/acl/policy.ts). */
const same = (a: string, b: string) => a === b || a.toLowerCase() === b.toLowerCase();

function matches(i: IntentionRule, source: string, destination: string): boolean {
  return (i.source === WILDCARD || same(i.source, source)) && (i.destination === WILDCARD || same(i.destination, destination));
}

/** The intention that decides for this pair, if any (highest precedence; a deny wins a tie). */
export function decidingIntention<T extends IntentionRule>(intentions: readonly T[], source: string, destination: string): T | undefined {
  let best: T | undefined;
  for (const i of intentions) {
    if (!matches(i, source, destination)) continue;
    if (!best || precedence(i) > precedence(best) || (precedence(i) === precedence(best) && i.action === "deny")) best = i;
  }
  return best;
}

/** Whether `source` may call `destination`. */
export function intentionAllows(intentions: readonly IntentionRule[], source: string, destination: string, defaultAllow: boolean): boolean {
  const d = decidingIntention(intentions, source, destination);
  return d ? d.action === "allow" : defaultAllow;
}

/** Consul's names: a service name or "*"; no partial wildcards. */
export function validIntentionName(name: string): string | undefined {
  if (name === "") return "a name is required";
  if (name.length > 256) return "a name is at most 256 characters";
  if (name !== WILDCARD && name.includes("*")) return `wildcard "*" must be the whole name, not part of "${name}"`;
  if (/[\x00-\x1f\x7f]/.test(name)) return "control characters are not allowed in a name";
  return undefined;
}
