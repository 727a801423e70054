// A fingerprint of what a set of ACL rules grants (pure): two authorizers
// compiled from inputs with the same key answer every question alike, so an
// answer cut to one may be served to the other. It is what lets identical
// blocking queries of different tokens share one evaluation and one
// serialization (plugins/discovery/http.ts cachedJsonRead) while two tokens
// that see different things never share an answer: the key covers every
// rule, the unsegmented levels and default_policy. Policy order does not
// change a decision (rules merge), so it does not change the key.
import { createHash } from "node:crypto";
import type { ParsedRules } from "./rules.ts";

/** The key of `policies` under `defaultAllow`; "management" for a management token. */
export function grantKey(input: { policies: readonly ParsedRules[]; management: boolean; defaultAllow: boolean }): string {
  if (input.management) return "management";
  const parts = input.policies.map((p) => JSON.stringify([
    p.rules.map((r) => [r.resource, r.segment, r.prefix, r.access]),
    Object.entries(p.unsegmented).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]));
  parts.sort();
  return createHash("sha256").update(JSON.stringify([input.defaultAllow, parts])).digest("base64url");
}
