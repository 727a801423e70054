// Go durations as Consul's JSON carries them: strings ("10s", "1m30s",
// "500ms") or numbers of nanoseconds (how Go encodes a time.Duration).
import { parseGoDurationMs } from "../http/consul.ts";

/**
 * Milliseconds from a Go duration (Consul JSON), or undefined when `v` is not
 * one. "0" and 0 are 0. Not the config schema's durationMs (duration.ts).
 */
export function goDurationMs(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v / 1e6 : undefined;
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (s === "0" || s === "") return 0;
  return parseGoDurationMs(s);
}

/**
 * Go's time.Duration.String() at millisecond precision: "10s", "1m30s",
 * "1h0m0s", "500ms". Consul's JSON carries durations this way, so it is for
 * wire formats only; text for people uses core/config/duration.ts formatDuration.
 */
export function goDurationString(ms: number): string {
  const total = Math.round(ms);
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = `${(total % 60_000) / 1000}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}
