// Policy evaluation: the rules of every policy a token holds, merged into one
// Authorizer. Pure and deterministic.
//
// For a segmented resource and a name, the most specific rule decides:
//  1. exact rules for that name beat any prefix rule;
//  2. otherwise the longest matching prefix wins;
//  3. several rules at the same place (two policies naming the same prefix)
//     merge as deny > write > read (Consul's precedence);
//  4. no rule at all: the default policy ("allow" grants everything).
// "write" implies "read"; "deny" refuses both. The most specific rule decides
// even when it is weaker: `key_prefix "" write` + `key_prefix "app/" read`
// makes "app/x" read-only.
import { isSegmented, type Access, type Authorizer, type Resource, type SegmentedResource, type UnsegmentedResource, type Want } from "./types.ts";
import type { ParsedRules, Rule } from "./rules.ts";
import { grantKey } from "./grant-key.ts";

const RANK: Record<Access, number> = { read: 1, write: 2, deny: 3 };

/**
 * Resources whose names the catalog looks up case-insensitively (services,
 * nodes; agent rules name nodes, intentions name services). Their rules and
 * requested names are compared lower-cased, so a rule holds for every
 * spelling the lookup accepts: `service "secret" deny` also refuses "SECRET",
 * and `service "WEB" write` grants "web" (security issue 13). KV keys and job
 * ids are looked up exactly, and compared exactly.
 */
const CASELESS = new Set<SegmentedResource>(["service", "node", "agent", "intention"]);

/** The form a name is compared in, for rules and requests alike. */
export function canonicalSegment(resource: SegmentedResource, segment: string): string {
  return CASELESS.has(resource) ? segment.toLowerCase() : segment;
}

/** Two rules at the same place: deny beats write beats read. */
export function mergeAccess(a: Access | undefined, b: Access): Access {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}

export function grants(level: Access, want: Want): boolean {
  return level === "write" || (level === "read" && want === "read");
}

interface ResourceRules {
  exact: Map<string, Access>;
  /** Prefix → merged level, longest prefixes first. */
  prefixes: Array<[string, Access]>;
}

function indexRules(rules: Rule[]): Map<SegmentedResource, ResourceRules> {
  const byRes = new Map<SegmentedResource, { exact: Map<string, Access>; prefixes: Map<string, Access> }>();
  for (const r of rules) {
    let e = byRes.get(r.resource);
    if (!e) byRes.set(r.resource, (e = { exact: new Map(), prefixes: new Map() }));
    const m = r.prefix ? e.prefixes : e.exact;
    const seg = canonicalSegment(r.resource, r.segment);
    m.set(seg, mergeAccess(m.get(seg), r.access));
  }
  const out = new Map<SegmentedResource, ResourceRules>();
  for (const [res, e] of byRes) {
    out.set(res, { exact: e.exact, prefixes: [...e.prefixes].sort((a, b) => b[0].length - a[0].length) });
  }
  return out;
}

/** The level the most specific rule gives `segment`, or undefined when no rule matches. */
export function levelFor(rules: ResourceRules | undefined, segment: string): Access | undefined {
  if (!rules) return undefined;
  const exact = rules.exact.get(segment);
  if (exact) return exact;
  for (const [prefix, level] of rules.prefixes) if (segment.startsWith(prefix)) return level;
  return undefined;
}

export interface AuthorizerInput {
  policies: ParsedRules[];
  /** Holds the global-management policy: everything is allowed. */
  management: boolean;
  /** The `default_policy` for anything no rule names. */
  defaultAllow: boolean;
}

export function compileAuthorizer(input: AuthorizerInput): Authorizer {
  if (input.management) return { allowed: () => true, allowedUnder: () => true, readsAll: () => true, key: grantKey(input) };
  const indexed = indexRules(input.policies.flatMap((p) => p.rules));
  const unsegmented = new Map<UnsegmentedResource, Access>();
  for (const p of input.policies) {
    for (const [res, level] of Object.entries(p.unsegmented) as [UnsegmentedResource, Access][]) {
      unsegmented.set(res, mergeAccess(unsegmented.get(res), level));
    }
  }
  const decide = (level: Access | undefined, want: Want) => (level === undefined ? input.defaultAllow : grants(level, want));
  const allowed = (resource: Resource, segment: string, want: Want): boolean => {
    if (!isSegmented(resource)) return decide(unsegmented.get(resource), want);
    return decide(levelFor(indexed.get(resource), canonicalSegment(resource, segment)), want);
  };
  return {
    key: grantKey(input),
    allowed,
    allowedUnder(resource: Resource, prefix: string, want: Want): boolean {
      if (!isSegmented(resource)) return allowed(resource, prefix, want);
      const r = indexed.get(resource);
      if (!r) return input.defaultAllow;
      // Consul's KeyWritePrefix: the longest *prefix* rule covering `prefix` decides for the
      // names below it that no other rule names (an exact rule on `prefix` covers only that
      // name: `key "app" write` does not reach "app/x", the default does), and every rule
      // inside the subtree, an exact one on `prefix` included, must allow it too.
      const from = canonicalSegment(resource, prefix);
      const covering = r.prefixes.find(([p]) => from.startsWith(p));
      if (!decide(covering?.[1], want)) return false;
      const inside = [...r.exact, ...r.prefixes].filter(([seg]) => seg.startsWith(from));
      return inside.every(([, level]) => grants(level, want));
    },
    readsAll(resource: Resource): boolean {
      if (!isSegmented(resource)) return decide(unsegmented.get(resource), "read");
      const r = indexed.get(resource);
      if (!r) return input.defaultAllow;
      const anyDeny = [...r.exact.values(), ...r.prefixes.map((p) => p[1])].includes("deny");
      if (anyDeny) return false;
      return input.defaultAllow || r.prefixes.some(([p]) => p === "");
    },
  };
}

/**
 * Consul's synthetic policy of a service identity: write on the service
 * (and read on its intentions), read on every service and node, for discovery.
 */
export function serviceIdentityRules(service: string): ParsedRules {
  return {
    rules: [
      { resource: "service", segment: service, prefix: false, access: "write" },
      { resource: "intention", segment: service, prefix: false, access: "read" },
      { resource: "service", segment: "", prefix: true, access: "read" },
      { resource: "node", segment: "", prefix: true, access: "read" },
    ],
    unsegmented: {},
  };
}
