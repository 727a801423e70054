// Where a service's instances come from: one long-lived blocking query per
// watched service, never a lookup per call.
//
// - Leader-role nodes (dev included) hold the replicated catalog: read it
//   with ctx.state.catalog and wait on the health tables (ctx.state.blocking).
// - Agents hold no state: a blocking `GET /v1/health/service/<name>` through
//   ctx.forward with index/wait and `stale` (any leader-role node may answer
//   from its replica; a balancer can live with a view milliseconds old).
//
// Both ask for every instance, not `?passing`, and filter locally: the same
// index, one request, and it tells an unknown service (404) from one with no
// healthy instance (503). On errors the last view is kept and the query is
// retried with backoff.
import { type CatalogReader, type PluginContext, serviceHealthTopics, watchLoop, watchRemote } from "../../core/sdk/index.ts";
import type { EndpointSpec } from "./pool.ts";

export interface InstanceView {
  /** The catalog has at least one instance, healthy or not. */
  exists: boolean;
  /** Instances whose every check (serfHealth included) passes: Consul's ?passing. */
  passing: EndpointSpec[];
}

export interface WatchHandlers {
  update(view: InstanceView): void;
  error(err: unknown): void;
}

export interface CatalogSource {
  /** Starts watching; the first update (or error) comes as soon as possible. */
  watch(service: string, on: WatchHandlers): { stop(): void };
}

/** The passing instances of one read of the local catalog. */
export function viewFromCatalog(catalog: CatalogReader, service: string): { index: number; value: InstanceView } {
  const r = catalog.serviceInstances(service, { withChecks: true });
  const passing: EndpointSpec[] = [];
  for (const i of r.value) {
    if (!i.checks.every((c) => c.status === "passing")) continue;
    passing.push({
      key: `${i.node.id}/${i.service.serviceId}`, node: i.node.name, serviceId: i.service.serviceId,
      address: i.service.address || i.node.address, nodeAddress: i.node.address, port: i.service.port, weight: i.service.weights?.passing ?? 1,
    });
  }
  return { index: r.index, value: { exists: r.value.length > 0, passing } };
}

interface HealthEntry {
  Node?: { ID?: string; Node?: string; Address?: string };
  Service?: { ID?: string; Address?: string; Port?: number; Weights?: { Passing?: number } };
  Checks?: { Status?: string }[];
}

/** The passing instances of a /v1/health/service answer. */
export function viewFromHealthJson(entries: HealthEntry[]): InstanceView {
  const passing: EndpointSpec[] = [];
  for (const e of entries) {
    if (!e.Service || !e.Node || !(e.Checks ?? []).every((c) => c.Status === "passing")) continue;
    passing.push({
      key: `${e.Node.ID ?? e.Node.Node}/${e.Service.ID}`, node: e.Node.Node ?? "", serviceId: e.Service.ID ?? "",
      address: e.Service.Address || e.Node.Address || "", nodeAddress: e.Node.Address ?? "", port: e.Service.Port ?? 0, weight: e.Service.Weights?.Passing ?? 1,
    });
  }
  return { exists: entries.length > 0, passing };
}

export function localSource(catalog: () => CatalogReader, blocking: PluginContext["state"]["blocking"], waitMs: number): CatalogSource {
  return {
    watch(service, on) {
      return watchLoop(async (index, signal) => {
        // Waits on the service's own name, as /v1/health/service does (core/state/service-names-changed.ts).
        const r = await blocking({ tables: serviceHealthTopics(service), minIndex: index, waitMs, signal }, () => viewFromCatalog(catalog(), service));
        if (signal.aborted) return index;
        // Index 0 means "first read": always report it, then only changes.
        if (index === 0 || r.index !== index) on.update(r.value);
        return r.index;
      }, on);
    },
  };
}

export function remoteSource(forward: (req: Request) => Promise<Response>, waitMs: number): CatalogSource {
  return {
    watch(service, on) {
      return watchRemote(forward, `/v1/health/service/${encodeURIComponent(service)}`, waitMs, {
        update: (body) => on.update(viewFromHealthJson(Array.isArray(body) ? (body as HealthEntry[]) : [])),
        error: (err) => on.error(err),
      });
    },
  };
}
