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
import type { PluginContext } from "../../core/plugins/types.ts";
import type { CatalogReader } from "../../core/state/domains/catalog-read.ts";
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

const HEALTH_TABLES = ["services", "catalog_nodes", "catalog_tombstones", "nodes", "checks"] as const;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 15_000;

/** The passing instances of one read of the local catalog. */
export function viewFromCatalog(catalog: CatalogReader, service: string): { index: number; value: InstanceView } {
  const r = catalog.serviceInstances(service, { withChecks: true });
  const passing: EndpointSpec[] = [];
  for (const i of r.value) {
    if (!i.checks.every((c) => c.status === "passing")) continue;
    passing.push({
      key: `${i.node.id}/${i.service.serviceId}`, node: i.node.name, serviceId: i.service.serviceId,
      address: i.service.address || i.node.address, port: i.service.port, weight: i.service.weights?.passing ?? 1,
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
      address: e.Service.Address || e.Node.Address || "", port: e.Service.Port ?? 0, weight: e.Service.Weights?.Passing ?? 1,
    });
  }
  return { exists: entries.length > 0, passing };
}

/** A loop that runs `step(index)` until stopped, backing off on errors. */
function loop(step: (index: number, signal: AbortSignal) => Promise<number>, on: WatchHandlers, sleep: (ms: number, s: AbortSignal) => Promise<void>) {
  const ctl = new AbortController();
  void (async () => {
    let index = 0;
    let failures = 0;
    while (!ctl.signal.aborted) {
      try {
        index = await step(index, ctl.signal);
        failures = 0;
      } catch (err) {
        if (ctl.signal.aborted) break;
        on.error(err);
        failures++;
        index = 0;
        await sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1)), ctl.signal);
      }
    }
  })();
  return { stop: () => ctl.abort() };
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

export function localSource(catalog: () => CatalogReader, blocking: PluginContext["state"]["blocking"], waitMs: number): CatalogSource {
  return {
    watch(service, on) {
      return loop(async (index, signal) => {
        const r = await blocking({ tables: HEALTH_TABLES, minIndex: index, waitMs, signal }, () => viewFromCatalog(catalog(), service));
        if (signal.aborted) return index;
        // Index 0 means "first read": always report it, then only changes.
        if (index === 0 || r.index !== index) on.update(r.value);
        return r.index;
      }, on, abortableSleep);
    },
  };
}

export function remoteSource(forward: (req: Request) => Promise<Response>, waitMs: number): CatalogSource {
  return {
    watch(service, on) {
      return loop(async (index, signal) => {
        const url = `http://leader/v1/health/service/${encodeURIComponent(service)}?stale&index=${index}&wait=${Math.ceil(waitMs / 1000)}s`;
        // The leader adds up to wait/16 of jitter; past that (plus slack) the connection is presumed dead.
        const deadline = AbortSignal.timeout(waitMs + waitMs / 16 + 10_000);
        const res = await forward(new Request(url, { signal: AbortSignal.any([signal, deadline]) }));
        if (!res.ok) throw new Error(`catalog query for ${service} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
        const body = (await res.json()) as HealthEntry[];
        const next = Number(res.headers.get("x-consul-index") ?? 0);
        if (index === 0 || next !== index) on.update(viewFromHealthJson(Array.isArray(body) ? body : []));
        // An index that went backwards (a leader restored from a snapshot) restarts the watch (Consul's rule).
        return next > 0 && next >= index ? next : 0;
      }, on, abortableSleep);
    },
  };
}
