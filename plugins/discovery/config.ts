// `[plugins.discovery]` config.
import { z } from "zod";
import { goDurationMs, MAX_CHECKS_PER_NODE, MAX_SERVICES_PER_NODE, NODE_CHECKS_CAP, NODE_SERVICES_CAP } from "../../core/sdk/index.ts";

/** Below this, anti-entropy writes a log entry per agent faster than it helps. */
export const MIN_SYNC_INTERVAL_MS = 1_000;
export const MAX_SYNC_INTERVAL_MS = 60 * 60 * 1000;

const syncInterval = z.string().transform((text, ctx) => {
  const ms = goDurationMs(text);
  if (ms === undefined || ms < MIN_SYNC_INTERVAL_MS || ms > MAX_SYNC_INTERVAL_MS) {
    ctx.addIssue({ code: "custom", message: `sync_interval must be a duration between 1s and 1h (e.g. "30s"), got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return Math.round(ms);
});

export const discoveryConfigSchema = z
  .object({
    /** How often an agent sends its full registration set to the catalog (anti-entropy); parsed to ms. */
    sync_interval: syncInterval.prefault("30s"),
    /** Services one node may register (its full sync is one log entry: mind http.max_body_bytes on agents). */
    max_services_per_node: z.number().int().min(1).max(NODE_SERVICES_CAP).default(MAX_SERVICES_PER_NODE),
    /** Checks one node may register. */
    max_checks_per_node: z.number().int().min(1).max(NODE_CHECKS_CAP).default(MAX_CHECKS_PER_NODE),
    /**
     * With ACLs on, a check's Output is "" for readers without write on the
     * check's service (node checks: on its node). Off: Consul's behaviour,
     * any reader of the service sees Output (check-output.ts).
     */
    hide_check_output: z.boolean().default(false),
  })
  .strict();

export type DiscoveryConfig = z.output<typeof discoveryConfigSchema>;
