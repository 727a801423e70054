// Go-style durations ("500ms", "10s", "1m30s", "2h") and byte sizes ("1MiB").
//
// parseDuration returns milliseconds (possibly fractional for ns/us inputs);
// callers that need whole milliseconds round. A bare number is refused on
// purpose: `node_ttl = 15` is ambiguous (seconds? milliseconds?), so the error
// asks for a unit instead of guessing.
import { z } from "zod";

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d)/;

export class DurationError extends Error {}

/** Parse "1m30s" into milliseconds. Throws DurationError with a readable reason. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "") throw new DurationError('empty duration; write it with a unit, e.g. "10s" or "500ms"');
  if (s === "0") return 0;
  if (/^[+-]?\d+(?:\.\d+)?$/.test(s)) {
    throw new DurationError(`"${s}" has no unit; write e.g. "${s}s" or "${s}ms" (units: ms, s, m, h, d)`);
  }
  let rest = s;
  let negative = false;
  if (rest[0] === "-" || rest[0] === "+") {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "") throw new DurationError(`"${s}" is not a duration`);
  let total = 0;
  while (rest !== "") {
    const m = DURATION_RE.exec(rest);
    if (!m) {
      throw new DurationError(
        `"${s}" is not a duration; use a number with a unit, e.g. "500ms", "10s", "1m30s", "2h" (units: ns, us, ms, s, m, h, d)`,
      );
    }
    const part = m[0];
    const unit = /(?:ns|us|µs|μs|ms|s|m|h|d)$/.exec(part)![0];
    const value = Number(part.slice(0, part.length - unit.length));
    total += value * UNIT_MS[unit]!;
    rest = rest.slice(part.length);
  }
  if (!Number.isFinite(total)) throw new DurationError(`"${s}" is too large`);
  return negative ? -total : total;
}

/**
 * Milliseconds as people write durations, and as the config file and
 * parseDuration take them back: 250 -> "250ms", 1500 -> "1.5s",
 * 1_800_000 -> "30m", 3_600_000 -> "1h", 5_400_000 -> "1h30m".
 * The one formatter for anything shown to people (CLI, log lines, error
 * messages). Consul's wire format ("1h0m0s", Go's time.Duration.String())
 * is a different thing: plugins/discovery/duration.ts goDurationString.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return "-" + formatDuration(-ms);
  if (ms === 0) return "0s";
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  const total = Math.round(ms);
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = (total % 60_000) / 1000;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
}

function describe(v: unknown): string {
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `the boolean ${v}`;
  if (Array.isArray(v)) return "an array";
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "object") return "a table";
  return typeof v;
}

/**
 * A zod schema: a duration string in, whole milliseconds out.
 * `min` (ms, default 1) is the smallest accepted value.
 *
 * Note for plugin authors (zod v4): `.default()` does NOT run the schema on the
 * default value, so write `durationMs().default(1000)` (milliseconds) or
 * `durationMs().prefault("1s")` (parsed), never `.default("1s")`.
 */
export function durationMs(opts: { min?: number; max?: number } = {}) {
  const min = opts.min ?? 1;
  return z.unknown().transform((v, ctx): number => {
    if (typeof v === "number" || typeof v === "bigint") {
      ctx.addIssue({
        code: "custom",
        message: `expected a duration string with a unit such as "${v}s" or "${v}ms", got ${describe(Number(v))} (units: ms, s, m, h)`,
      });
      return z.NEVER;
    }
    if (typeof v !== "string") {
      ctx.addIssue({ code: "custom", message: `expected a duration string such as "10s", got ${describe(v)}` });
      return z.NEVER;
    }
    let ms: number;
    try {
      ms = Math.round(parseDuration(v));
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({ code: "custom", message: `"${v}" is too short; must be at least ${formatDuration(min)}` });
      return z.NEVER;
    }
    if (opts.max !== undefined && ms > opts.max) {
      ctx.addIssue({ code: "custom", message: `"${v}" is too long; must be at most ${formatDuration(opts.max)}` });
      return z.NEVER;
    }
    return ms;
  });
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Parse "1MiB" / "512KB" / "100" into bytes. Throws DurationError (shared error type) on bad input. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) throw new DurationError(`"${text}" is not a size; write bytes as an integer or e.g. "512KiB", "1MiB", "10MB"`);
  const unit = m[2]!.toLowerCase();
  const factor = unit === "" ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) {
    throw new DurationError(`"${text}" has an unknown size unit "${m[2]}" (units: B, KB, MB, GB, KiB, MiB, GiB)`);
  }
  const bytes = Number(m[1]) * factor;
  if (!Number.isInteger(bytes)) throw new DurationError(`"${text}" is not a whole number of bytes`);
  return bytes;
}

/** A zod schema: an integer byte count or a size string in, bytes out. */
export function sizeBytes(opts: { min?: number; max?: number } = {}) {
  const min = opts.min ?? 1;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return z.unknown().transform((v, ctx): number => {
    let n: number;
    if (typeof v === "number") {
      if (!Number.isInteger(v)) {
        ctx.addIssue({ code: "custom", message: `expected a whole number of bytes, got ${v}` });
        return z.NEVER;
      }
      n = v;
    } else if (typeof v === "string") {
      try {
        n = parseSize(v);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return z.NEVER;
      }
    } else {
      ctx.addIssue({ code: "custom", message: `expected a byte count or a size string such as "1MiB", got ${describe(v)}` });
      return z.NEVER;
    }
    if (n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `must be between ${min} and ${max} bytes, got ${n}` });
      return z.NEVER;
    }
    return n;
  });
}

/**
 * Go's time.ParseDuration grammar, minus negative values: a sequence of
 * decimal numbers each with a unit (ns, us/µs, ms, s, m, h), or "0".
 * Milliseconds, or undefined when `text` is not one. The one parser behind
 * Consul's `wait=`, plugin intervals and job specs (no "d": Go has none).
 */
export function parseGoDuration(text: string): number | undefined {
  const s = text.trim().replace(/^\+/, "");
  if (s === "0") return 0;
  if (s === "") return undefined;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  while (part.lastIndex < s.length) {
    const m = part.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}
