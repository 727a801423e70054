// Go-style durations ("10s", "1m30s", "250ms", "1.5h") to milliseconds, the
// same grammar as Go's time.ParseDuration minus negative values: a job never
// wants a negative interval.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART_SOURCE = String.raw`(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)`;

/** Milliseconds, or null when `text` is not a duration. "0" alone is allowed. */
export function parseDurationMs(text: string): number | null {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "") return null;
  let total = 0;
  const part = new RegExp(PART_SOURCE, "y"); // sticky regexps carry state; one per call
  while (part.lastIndex < s.length) {
    const m = part.exec(s);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}
