// Version constraints for the "version" operator, in the style of
// hashicorp/go-version (what Nomad uses): a comma-separated list of
// comparisons that must all hold, e.g. ">= 1.2, < 2" or "~> 5.15".
//
// Versions are dot-separated numbers with an optional "v" prefix, an optional
// "-prerelease" and an optional "+metadata" (ignored). Missing segments are 0.
// A prerelease sorts before its release: 1.2.0-beta < 1.2.0.

export interface Version {
  segments: number[];
  prerelease: string;
}

type Op = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~>";

interface Comparison {
  op: Op;
  version: Version;
}

export type VersionRange = (v: Version) => boolean;

const VERSION = /^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.\-]+))?(?:\+[0-9A-Za-z.\-]+)?$/;
const COMPARISON = /^(=|!=|>=|<=|>|<|~>)?\s*(\S+)$/;

export function parseVersion(text: string): Version | null {
  const m = VERSION.exec(text.trim());
  if (!m) return null;
  return { segments: m[1]!.split(".").map(Number), prerelease: m[2] ?? "" };
}

/** Negative, zero or positive like a comparator. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = (a.segments[i] ?? 0) - (b.segments[i] ?? 0);
    if (d !== 0) return d;
  }
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === "") return 1;
  if (b.prerelease === "") return -1;
  return comparePrerelease(a.prerelease, b.prerelease);
}

function comparePrerelease(a: string, b: string): number {
  const pa = a.split(".");
  const pb = b.split(".");
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx - ny;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

function holds(c: Comparison, v: Version): boolean {
  const d = compareVersions(v, c.version);
  switch (c.op) {
    case "=": return d === 0;
    case "!=": return d !== 0;
    case ">": return d > 0;
    case ">=": return d >= 0;
    case "<": return d < 0;
    case "<=": return d <= 0;
    case "~>": return d >= 0 && pessimisticPrefixMatches(c.version, v);
  }
}

/** "~> 1.2.3" allows 1.2.x (x ≥ 3); "~> 1.2" allows 1.x (x ≥ 2): all but the last segment must match. */
function pessimisticPrefixMatches(want: Version, v: Version): boolean {
  const fixed = Math.max(1, want.segments.length - 1);
  for (let i = 0; i < fixed; i++) {
    if ((v.segments[i] ?? 0) !== want.segments[i]) return false;
  }
  return true;
}

/** Parse a range like ">= 1.2, < 2"; returns an error sentence when malformed. */
export function parseVersionRange(text: string): { ok: true; range: VersionRange } | { ok: false; error: string } {
  const parts = text.split(",").map((p) => p.trim());
  const comparisons: Comparison[] = [];
  for (const part of parts) {
    const m = COMPARISON.exec(part);
    const version = m ? parseVersion(m[2]!) : null;
    if (!m || !version) {
      return { ok: false, error: `"${part}" is not a version comparison like ">= 1.2" or "~> 5.15"` };
    }
    comparisons.push({ op: (m[1] ?? "=") as Op, version });
  }
  return { ok: true, range: (v) => comparisons.every((c) => holds(c, v)) };
}
