// The dns plugin: a Consul-style DNS interface over UDP and TCP.
//
// The answering is done by the pure responder (responder.ts) over a
// DnsCatalog; this file only wires it to sockets (server.ts), the catalog
// (catalog.ts, or an injected one), the config and metrics. Both listeners
// are registered with ctx.own, so disable/reload closes them and frees the
// port; a port that cannot be bound makes setup throw (the plugin is marked
// failed, the node keeps serving).
import type * as dnsPacket from "dns-packet";
import { hostPort, type PluginContext, type PluginHandle, type PluginModule } from "../../core/sdk/index.ts";
import { catalogFromState } from "./catalog.ts";
import { normalizeDomain } from "./names.ts";
import { RemoteCatalog } from "./remote.ts";
import { dnsConfigSchema, type DnsConfig } from "./config.ts";
import { decodeQuery, respondDecoded, type RespondResult } from "./responder.ts";
import { listenDns } from "./server.ts";
import type { DnsCatalog, ResponderConfig } from "./types.ts";

export const DNS_VERSION = "0.1.0";

export interface DnsPluginDeps {
  /** Where answers come from (tests inject a fake; default: catalogFromState(ctx.state)). */
  catalog?: (ctx: PluginContext<DnsConfig>) => DnsCatalog;
  /** Random numbers for shuffling (default Math.random). */
  random?: () => number;
  /** Clock for the SOA serial (default Date.now). */
  now?: () => number;
}

/** What setup returns: the usual handle plus where it listens (port 0 picks one). */
export interface DnsHandle extends PluginHandle {
  address: string;
  port: number;
}

/** Query types counted under their own label; the rest are "other" (bounded label values). */
const QTYPE_LABELS = new Set(["A", "AAAA", "SRV", "ANY", "CNAME", "SOA", "NS", "TXT", "PTR", "MX"]);
const WARN_EVERY_MS = 10_000;

// Agents (remote.ts): how long a watch's blocking query waits, how long a
// first lookup waits for the leaders, when an unasked name stops being
// watched, and how many names are watched at most.
const AGENT_WATCH_WAIT_MS = 5 * 60_000;
const AGENT_FIRST_ANSWER_MS = 2_000;
const AGENT_IDLE_MS = 10 * 60_000;
const AGENT_MAX_NAMES = 1_000;

export function createDnsPlugin(deps: DnsPluginDeps = {}): PluginModule<DnsConfig> {
  return {
    name: "dns",
    version: DNS_VERSION,
    description: "DNS interface (UDP and TCP): A/AAAA/SRV for healthy service instances, nodes",
    configSchema: dnsConfigSchema,
    listeners: (c) => [`dns ${hostPort(c.bind, c.port)} (udp+tcp)`],
    async setup(ctx: PluginContext<DnsConfig>): Promise<DnsHandle> {
      const cfg = ctx.config;
      // Leader-role nodes answer from their replica; agents hold no state and
      // ask the leaders about the names they are asked (remote.ts).
      const remote = !deps.catalog && ctx.forward
        ? new RemoteCatalog({
          forward: ctx.forward,
          domains: [cfg.domain, cfg.alt_domain].filter((d): d is string => !!d).map(normalizeDomain),
          datacenter: ctx.host.datacenter,
          waitMs: AGENT_WATCH_WAIT_MS, firstAnswerMs: AGENT_FIRST_ANSWER_MS, idleMs: AGENT_IDLE_MS, maxNames: AGENT_MAX_NAMES,
          onError: (err) => ctx.log.debug("dns: catalog query to the leaders failed", { err }),
        })
        : undefined;
      if (remote) {
        ctx.own({ close: () => remote.close() });
        ctx.every(AGENT_IDLE_MS / 10, () => remote.sweep());
      }
      const catalog = deps.catalog ? deps.catalog(ctx) : remote ?? catalogFromState(ctx.state);
      const queries = ctx.metrics.counter({
        name: "corral_dns_queries_total",
        help: "DNS queries answered, by transport, query type and response code",
        labelNames: ["transport", "qtype", "rcode"] as const,
      });
      const truncated = ctx.metrics.counter({
        name: "corral_dns_truncated_total",
        help: "DNS responses cut to fit (TC bit set), by transport",
        labelNames: ["transport"] as const,
      });

      let lastWarn = 0;
      const onError = (err: unknown) => {
        // An unexpected failure answers SERVFAIL; log it, but not once per query.
        const now = Date.now();
        if (now - lastWarn < WARN_EVERY_MS) return;
        lastWarn = now;
        ctx.log.warn("dns query failed (answered SERVFAIL)", { err });
      };
      const base: ResponderConfig = {
        domain: cfg.domain,
        altDomain: cfg.alt_domain,
        datacenter: ctx.host.datacenter,
        nodeName: ctx.host.nodeName,
        serviceTtl: cfg.service_ttl,
        nodeTtl: cfg.node_ttl,
        udpAnswerLimit: cfg.udp_answer_limit,
        random: deps.random,
        now: deps.now,
      };
      const udpOpts = { ...base, transport: "udp" as const, onError };
      const tcpOpts = { ...base, transport: "tcp" as const, onError };

      /** Counts a result and returns what to send. */
      const sent = (r: RespondResult | undefined, transport: "udp" | "tcp"): Buffer | undefined => {
        if (!r) return undefined;
        queries.inc({ transport, qtype: QTYPE_LABELS.has(r.qtype) ? r.qtype : r.qtype === "" ? "none" : "other", rcode: r.rcode });
        if (r.truncated) truncated.inc({ transport });
        return r.response;
      };
      const answer = (query: dnsPacket.DecodedPacket, transport: "udp" | "tcp"): Buffer | undefined =>
        sent(respondDecoded(query, catalog, transport === "udp" ? udpOpts : tcpOpts), transport);

      let stopped = false;
      const listeners = await listenDns(
        {
          bind: cfg.bind,
          port: cfg.port,
          idleTimeoutMs: cfg.tcp_idle_timeout,
          own: (c) => void ctx.own(c),
          onError: (err, where) => {
            if (where === "udp-send") ctx.log.debug("dns: sending a response failed", { err });
            else if (!stopped) ctx.fail(err);
          },
        },
        (msg, transport) => {
          if (stopped) return undefined;
          const d = decodeQuery(msg);
          if (!d.ok) return sent(d.result, transport);
          // An agent waits only for a name whose first answer has not come yet;
          // otherwise (and on leaders) the answer is synchronous.
          const p = remote?.prepareQuestions(d.query.questions ?? []);
          return p ? p.then(() => (stopped ? undefined : answer(d.query, transport))) : answer(d.query, transport);
        },
      );
      ctx.log.info("dns listening", {
        address: listeners.address,
        port: listeners.port,
        domain: cfg.domain,
        ...(cfg.alt_domain ? { altDomain: cfg.alt_domain } : {}),
      });
      return {
        address: listeners.address,
        port: listeners.port,
        stop() {
          stopped = true;
        },
      };
    },
  };
}

export const dnsPlugin: PluginModule<DnsConfig> = createDnsPlugin();
export default dnsPlugin;

export { answer, respond, fit, shuffle, srvTarget } from "./responder.ts";
export { catalogFromState } from "./catalog.ts";
export { dnsConfigSchema, type DnsConfig } from "./config.ts";
export type { DnsCatalog, DnsInstance, DnsInstanceStatus, ResponderConfig, ResponderOptions } from "./types.ts";
