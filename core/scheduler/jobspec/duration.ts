// Go-style durations ("10s", "1m30s", "250ms", "1.5h") to milliseconds, the
// same grammar as Go's time.ParseDuration minus negative values: a job never
// wants a negative interval.

import { parseGoDuration } from "../../config/duration.ts";

/** Milliseconds, or null when `text` is not a duration. "0" alone is allowed. */
export function parseDurationMs(text: string): number | null {
  return parseGoDuration(text) ?? null;
}
