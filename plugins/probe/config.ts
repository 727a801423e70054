// `[plugins.probe]` config: sampling interval and fingerprint overrides.
//
// The interval is a Go-style duration string ("1s", "500ms", "1m30s"), parsed
// here to milliseconds so the rest of the plugin deals in numbers only.
import { z } from "zod";
import { parseGoDuration } from "../../core/sdk/index.ts";

/** Below this, sampling costs more than it tells (CPU ticks are 10 ms). */
export const MIN_INTERVAL_MS = 100;
/** Above this, samples are too stale to mean "live". */
export const MAX_INTERVAL_MS = 60 * 60 * 1000;

/** Go-style duration to milliseconds, or undefined (kept as an export for the plugin's users). */
export const parseDurationMs = parseGoDuration;

const intervalMs = z.string().transform((text, ctx) => {
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `not a duration: ${JSON.stringify(text)} (expected e.g. "1s", "500ms", "1m30s")`,
    });
    return z.NEVER;
  }
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    ctx.addIssue({
      code: "custom",
      message: `interval ${JSON.stringify(text)} is out of range: must be between ${MIN_INTERVAL_MS}ms and 1h`,
    });
    return z.NEVER;
  }
  return Math.round(ms);
});

const mhz = z.number().int().positive();
const mb = z.number().int().positive();

export const probeConfigSchema = z
  .object({
    /** Sampling period; parsed to milliseconds. Default "1s". */
    interval: intervalMs.prefault("1s"),
    /** Advertise this total CPU (MHz) instead of cores × detected MHz. */
    cpu_total_mhz: mhz.optional(),
    /** Advertise this much memory (MiB) instead of MemTotal. */
    memory_total_mb: mb.optional(),
    /** CPU (MHz) kept back from scheduling for the OS and corral. */
    reserved_cpu_mhz: z.number().int().nonnegative().optional(),
    /** Memory (MiB) kept back from scheduling for the OS and corral. */
    reserved_memory_mb: z.number().int().nonnegative().optional(),
  })
  .strict();

/** The parsed config: `interval` is in milliseconds. */
export type ProbeConfig = z.output<typeof probeConfigSchema>;
