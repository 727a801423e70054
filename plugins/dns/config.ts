// `[plugins.dns]`: where to listen, which domains to answer, TTLs and limits.
// Durations are Go-style strings ("0s", "30s", "10s"); TTLs come out in whole
// seconds, the TCP idle timeout in milliseconds.
import { isIP } from "node:net";
import { z } from "zod";
import { durationMs } from "../../core/sdk/index.ts";
import { normalizeDomain } from "./names.ts";

/** The largest TTL we accept (RFC 2181 allows more; a day is plenty for discovery). */
export const MAX_TTL_SECONDS = 86_400;

const ttlSeconds = durationMs({ min: 0, max: MAX_TTL_SECONDS * 1000 }).transform((ms, ctx) => {
  if (ms % 1000 !== 0) {
    ctx.addIssue({ code: "custom", message: `a DNS TTL is whole seconds; ${ms}ms is not` });
    return z.NEVER;
  }
  return ms / 1000;
});

const domainName = z.string().transform((text, ctx) => {
  const d = normalizeDomain(text);
  const labels = d.split(".");
  if (d === "" || labels.some((l) => !/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l)) || d.length > 200) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(text)} is not a usable DNS domain (expected e.g. "corral." or "cluster.internal.")`,
    });
    return z.NEVER;
  }
  return `${d}.`;
});

export const dnsConfigSchema = z
  .object({
    /** UDP and TCP port. 0 picks a free port (the same for both); tests use it. */
    port: z.number().int().min(0).max(65535).default(7753),
    /** Address to listen on ("0.0.0.0" or "::" for every interface). */
    bind: z
      .string()
      .refine((s) => isIP(s) !== 0, { message: 'must be an IP address such as "127.0.0.1", "0.0.0.0" or "::"' })
      .default("127.0.0.1"),
    /** Our domain; answers are authoritative for it. */
    domain: domainName.prefault("corral."),
    /** A second domain answered the same way (e.g. "consul." for existing Consul set-ups). */
    alt_domain: domainName.optional(),
    /** TTL of service records (A/AAAA/CNAME/SRV and SRV additionals). */
    service_ttl: ttlSeconds.prefault("0s"),
    /** TTL of node records and `.addr.` records. */
    node_ttl: ttlSeconds.prefault("0s"),
    /** Most answer records in a UDP response (TC set when more exist); 0 = only the size limit. */
    udp_answer_limit: z.number().int().min(0).max(1000).default(3),
    /** A TCP connection with no complete query for this long is closed. */
    tcp_idle_timeout: durationMs({ min: 100, max: 3_600_000 }).prefault("10s"),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.alt_domain !== undefined && c.alt_domain === c.domain) {
      ctx.addIssue({ code: "custom", path: ["alt_domain"], message: `alt_domain must differ from domain (${c.domain})` });
    }
  });

/** The parsed config: TTLs in seconds, tcp_idle_timeout in milliseconds, domains lowercase with a trailing dot. */
export type DnsConfig = z.output<typeof dnsConfigSchema>;
