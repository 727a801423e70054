// `[plugins.health]` config: exec checks, probe concurrency, intervals, output.
import { z } from "zod";
import { durationMs, MAX_CHECK_OUTPUT, sizeBytes } from "../../core/sdk/index.ts";

export const healthConfigSchema = z
  .object({
    /** Run exec (Args) checks. Off: registering one is refused with a 400 (Consul's enable_script_checks). */
    enable_exec_checks: z.boolean().default(false),
    /**
     * The host user exec checks run as when the agent is root (never root
     * itself): a check's Args come from whoever may register the service.
     */
    exec_check_user: z.string().regex(/^[a-z_][a-z0-9_.\-]{0,31}$/, "a user name").default("nobody"),
    /** Probes in flight at once; due checks past this wait their turn. */
    max_concurrent: z.number().int().min(1).max(10_000).default(256),
    /** Shorter check Intervals are raised to this (Consul: 1s). */
    min_interval: durationMs({ min: 10, max: 60 * 60_000 }).prefault("1s"),
    /** Bytes of an http body (or exec output) kept in a check's Output. */
    output_max_size: sizeBytes({ min: 0, max: MAX_CHECK_OUTPUT }).prefault(MAX_CHECK_OUTPUT),
    /** An Output change with an unchanged status is reported at most this often (Consul's check_update_interval). */
    output_update_interval: durationMs({ min: 0, max: 24 * 60 * 60_000 }).prefault("5m"),
  })
  .strict();

export type HealthConfig = z.output<typeof healthConfigSchema>;
