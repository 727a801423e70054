// Reads of the service catalog, each with the index a blocking client waits
// on (reference §3, B5). A query's index is the highest modify index of every
// row that can appear in its *unfiltered* result (so a row leaving a tag- or
// health-filtered view still moves it) plus the tombstones of rows deleted
// from that result. Nothing else moves it: a KV write, another service's
// change, or a check output update leaves it where it was.
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../store/db.ts";
import { catalogNodes, catalogTombstones, checks, nodes, services, type CheckRow, type ServiceRow } from "../../store/schema.ts";
import { catalogTombstoneFloor } from "./catalog-tombstones.ts";
import { preparedQuery } from "../../store/prepared.ts";
import type { CatalogCheckDef, CatalogServiceDef, CheckStatus, NodeRef } from "./catalog.ts";

export interface Indexed<T> {
  /** Never 0 (Consul clients read 0 as "no index"). */
  index: number;
  value: T;
}

export interface CatalogNode {
  id: string;
  name: string;
  /** Host only, no port (Consul's Node.Address). */
  address: string;
  /** The node's corral HTTP port; 0 when unknown (registration-only nodes). */
  port: number;
  datacenter: string;
  meta: Record<string, string>;
  /** Membership status; nodes known only through registrations are "ready". */
  status: "ready" | "down";
  createIndex: number;
  modifyIndex: number;
}

export type CatalogService = ServiceRow;

export interface CatalogCheck extends CheckRow {
  nodeName: string;
  serviceName: string;
  serviceTags: string[];
}

export interface ServiceInstance {
  node: CatalogNode;
  service: CatalogService;
  /** Node checks (serfHealth first) then this instance's checks; empty unless asked for. */
  checks: CatalogCheck[];
}

/** One passing-or-warning instance, as DNS needs it. */
export interface HealthyInstance {
  node: string;
  nodeAddress: string;
  /** "" = use nodeAddress. */
  serviceAddress: string;
  port: number;
  tags: string[];
  status: "passing" | "warning";
  serviceId: string;
  serviceName: string;
  weights: { passing: number; warning: number };
}

export interface CatalogReader {
  /** Service name -> unique tags (sorted), every instance whatever its health. */
  /**
   * catalog/services. With `visible` (a token that may not read every service), only the names it
   * accepts, and an index that only their writes and removals move (tombstones are kept by name).
   */
  services(visible?: (name: string) => boolean): Indexed<Record<string, string[]>>;
  /** Instances of `name` (case-insensitive) carrying every tag of `tags`; checks included when `withChecks`. */
  serviceInstances(name: string, opts?: { tags?: string[]; withChecks?: boolean }): Indexed<ServiceInstance[]>;
  nodes(): Indexed<CatalogNode[]>;
  /** A node by name (case-insensitive) and its services; null when unknown. */
  node(name: string): Indexed<{ node: CatalogNode; services: CatalogService[] } | null>;
  /** health/node: the node's serfHealth, node checks and service checks. */
  nodeChecks(name: string): Indexed<CatalogCheck[]>;
  /** health/checks: the checks of every instance of a service. */
  serviceChecks(name: string): Indexed<CatalogCheck[]>;
  /** health/state: every check (serfHealth included) in `state`, or all for "any". */
  checksInState(state: CheckStatus | "any"): Indexed<CatalogCheck[]>;
  /** DNS: passing-or-warning instances of `name`, optionally only those tagged `tag` (both case-insensitive). */
  healthyInstances(name: string, tag?: string): HealthyInstance[];
  /** DNS: a node by name (case-insensitive). */
  nodeByName(name: string): CatalogNode | undefined;
  /** A node's rows as its agent registered them (anti-entropy compares them with the agent's own). */
  registrations(nodeId: string): { node: NodeRef | undefined; services: CatalogServiceDef[]; checks: CatalogCheckDef[] };
}

/** "10.0.0.5:7700" -> "10.0.0.5"; "[::1]:7700" -> "::1"; a bare host stays. */
export function hostOf(address: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (v6) return v6[1]!;
  const m = /^([^:]+):\d+$/.exec(address);
  return m ? m[1]! : address;
}

/** Worst status wins (Consul's AggregatedStatus); no checks = passing. */
export function aggregateStatus(list: { status: string }[]): CheckStatus {
  if (list.some((c) => c.status === "critical")) return "critical";
  if (list.some((c) => c.status === "warning")) return "warning";
  return "passing";
}

const max = (...xs: (number | null | undefined)[]) => Math.max(1, ...xs.map((x) => x ?? 0));

export function createCatalogReader(db: Db): CatalogReader {
  const loadNodes = (ids?: string[]): Map<string, CatalogNode> => {
    const out = new Map<string, CatalogNode>();
    if (ids && ids.length === 0) return out;
    const extra = db.select().from(catalogNodes).where(ids ? inArray(catalogNodes.id, ids) : undefined).all();
    for (const n of extra) out.set(n.id, { ...n, port: 0, meta: {}, status: "ready" });
    // Membership rows win over registration-only ones: they carry status and meta.
    for (const n of db.select().from(nodes).where(ids ? inArray(nodes.id, ids) : undefined).all()) {
      out.set(n.id, {
        id: n.id, name: n.name, address: hostOf(n.address), port: Number(/:(\d+)$/.exec(n.address)?.[1] ?? 0), datacenter: n.datacenter, meta: n.meta,
        status: n.status === "down" ? "down" : "ready", createIndex: n.createIndex, modifyIndex: n.modifyIndex,
      });
    }
    return out;
  };

  const findNode = (name: string): CatalogNode | undefined => {
    const lower = name.toLowerCase();
    const all = [...loadNodes().values()].filter((n) => n.name.toLowerCase() === lower);
    // Names are unique among ready nodes; a down node may share one with its successor.
    all.sort((a, b) => (a.status === b.status ? b.modifyIndex - a.modifyIndex : a.status === "ready" ? -1 : 1));
    return all[0];
  };

  // Every index read from tombstones is at least the highest one reaped (catalog-tombstones.ts): none goes back after a reap.
  const tomb = (kind: string, keys: string[]): number => {
    if (keys.length === 0) return 0;
    const r = db.select({ m: sql<number | null>`max(${catalogTombstones.deleteIndex})` }).from(catalogTombstones)
      .where(and(eq(catalogTombstones.kind, kind), inArray(catalogTombstones.key, keys))).get();
    return Math.max(r?.m ?? 0, catalogTombstoneFloor(db));
  };

  /** The last deletion of any row of this kind: a list's index moves when one of its rows goes. */
  const tombAny = (kind: string): number => Math.max(
    db.select({ m: sql<number | null>`max(${catalogTombstones.deleteIndex})` }).from(catalogTombstones).where(eq(catalogTombstones.kind, kind)).get()?.m ?? 0,
    catalogTombstoneFloor(db),
  );

  const maxOf = (rows: { modifyIndex: number }[]) => rows.reduce((m, r) => Math.max(m, r.modifyIndex), 0);

  const serfHealth = (n: CatalogNode): CatalogCheck => ({
    nodeId: n.id, nodeName: n.name, checkId: "serfHealth", name: "Serf Health Status",
    status: n.status === "ready" ? "passing" : "critical", notes: "",
    output: n.status === "ready" ? "Agent alive and reachable" : "Agent not live or unreachable",
    serviceId: "", serviceName: "", serviceTags: [], type: "", definition: {},
    createIndex: n.createIndex, modifyIndex: n.modifyIndex,
  });

  /** Joins check rows with their node and service. */
  const decorate = (rows: CheckRow[], nodeMap: Map<string, CatalogNode>, svcs: ServiceRow[]): CatalogCheck[] => {
    const byKey = new Map(svcs.map((s) => [`${s.nodeId}\0${s.serviceId}`, s]));
    const out: CatalogCheck[] = [];
    for (const r of rows) {
      const node = nodeMap.get(r.nodeId);
      if (!node) continue;
      const svc = r.serviceId ? byKey.get(`${r.nodeId}\0${r.serviceId}`) : undefined;
      out.push({ ...r, nodeName: node.name, serviceName: svc?.name ?? "", serviceTags: svc?.tags ?? [] });
    }
    return out;
  };

  const byName = (name: string) => sql`${services.name} = ${name} COLLATE NOCASE`;
  const hasTags = (s: ServiceRow, tags: string[]) => {
    const own = new Set(s.tags.map((t) => t.toLowerCase()));
    return tags.every((t) => own.has(t.toLowerCase()));
  };

  const reader: CatalogReader = {
    services(visible) {
      const all = db.select({ name: services.name, tags: services.tags, m: services.modifyIndex }).from(services).all();
      const rows = visible ? all.filter((r) => visible(r.name)) : all;
      const out: Record<string, Set<string>> = {};
      for (const r of rows) for (const t of r.tags) (out[r.name] ??= new Set()).add(t);
      for (const r of rows) out[r.name] ??= new Set();
      const dead = visible
        ? { m: db.select({ key: catalogTombstones.key, m: catalogTombstones.deleteIndex }).from(catalogTombstones)
          .where(eq(catalogTombstones.kind, "service")).all().reduce((m, t) => (visible(t.key) ? Math.max(m, t.m) : m), 0) }
        : db.select({ m: sql<number | null>`max(${catalogTombstones.deleteIndex})` }).from(catalogTombstones)
          .where(eq(catalogTombstones.kind, "service")).get();
      const value = Object.fromEntries(Object.keys(out).sort().map((k) => [k, [...out[k]!].sort()]));
      return { index: max(rows.reduce((m, r) => Math.max(m, r.m), 0), dead?.m, catalogTombstoneFloor(db)), value };
    },

    serviceInstances(name, opts = {}) {
      const rows = db.select().from(services).where(byName(name)).all();
      const nodeIds = [...new Set(rows.map((r) => r.nodeId))];
      const nodeMap = loadNodes(nodeIds);
      let index = max(maxOf(rows), maxOf([...nodeMap.values()]), tomb("service", [name.toLowerCase()]));
      let checkRows: CheckRow[] = [];
      if (opts.withChecks && nodeIds.length) {
        const ids = new Set(rows.map((r) => `${r.nodeId}\0${r.serviceId}`));
        checkRows = db.select().from(checks).where(inArray(checks.nodeId, nodeIds)).all()
          .filter((c) => c.serviceId === "" || ids.has(`${c.nodeId}\0${c.serviceId}`));
        index = max(index, maxOf(checkRows), tomb("nodecheck", nodeIds));
      }
      const all = decorate(checkRows, nodeMap, rows);
      const value: ServiceInstance[] = [];
      for (const s of rows) {
        const node = nodeMap.get(s.nodeId);
        if (!node || (opts.tags?.length && !hasTags(s, opts.tags))) continue;
        const own = opts.withChecks
          ? [serfHealth(node), ...all.filter((c) => c.nodeId === s.nodeId && (c.serviceId === "" || c.serviceId === s.serviceId))]
          : [];
        value.push({ node, service: s, checks: own });
      }
      value.sort((a, b) => a.node.name.localeCompare(b.node.name) || a.service.serviceId.localeCompare(b.service.serviceId));
      return { index, value };
    },

    nodes() {
      const value = [...loadNodes().values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
      return { index: max(maxOf(value), tombAny("node")), value };
    },

    node(name) {
      const node = findNode(name);
      if (!node) return { index: max(maxOf([...loadNodes().values()])), value: null };
      const svcs = db.select().from(services).where(eq(services.nodeId, node.id)).all()
        .sort((a, b) => a.serviceId.localeCompare(b.serviceId));
      return { index: max(node.modifyIndex, maxOf(svcs), tomb("node", [node.id])), value: { node, services: svcs } };
    },

    nodeChecks(name) {
      const node = findNode(name);
      if (!node) return { index: max(maxOf([...loadNodes().values()])), value: [] };
      const svcs = db.select().from(services).where(eq(services.nodeId, node.id)).all();
      const rows = db.select().from(checks).where(eq(checks.nodeId, node.id)).all().sort((a, b) => a.checkId.localeCompare(b.checkId));
      const value = [serfHealth(node), ...decorate(rows, new Map([[node.id, node]]), svcs)];
      return { index: max(node.modifyIndex, maxOf(svcs), maxOf(rows), tomb("node", [node.id])), value };
    },

    serviceChecks(name) {
      const svcs = db.select().from(services).where(byName(name)).all();
      const nodeIds = [...new Set(svcs.map((s) => s.nodeId))];
      const ids = new Set(svcs.map((s) => `${s.nodeId}\0${s.serviceId}`));
      const rows = nodeIds.length
        ? db.select().from(checks).where(inArray(checks.nodeId, nodeIds)).all().filter((c) => c.serviceId && ids.has(`${c.nodeId}\0${c.serviceId}`))
        : [];
      const value = decorate(rows, loadNodes(nodeIds), svcs)
        .sort((a, b) => a.nodeName.localeCompare(b.nodeName) || a.checkId.localeCompare(b.checkId));
      return { index: max(maxOf(svcs), maxOf(rows), tomb("service", [name.toLowerCase()])), value };
    },

    checksInState(state) {
      const nodeMap = loadNodes();
      const svcs = db.select().from(services).all();
      const rows = db.select().from(checks).all();
      const every = [...[...nodeMap.values()].map(serfHealth), ...decorate(rows, nodeMap, svcs)];
      const value = every.filter((c) => state === "any" || c.status === state)
        .sort((a, b) => a.nodeName.localeCompare(b.nodeName) || a.checkId.localeCompare(b.checkId));
      const dead = db.select({ m: sql<number | null>`max(${catalogTombstones.deleteIndex})` }).from(catalogTombstones).get();
      return { index: max(maxOf([...nodeMap.values()]), maxOf(svcs), maxOf(rows), dead?.m, catalogTombstoneFloor(db)), value };
    },

    healthyInstances(name, tag) {
      const { value } = reader.serviceInstances(name, { tags: tag ? [tag] : [], withChecks: true });
      const out: HealthyInstance[] = [];
      for (const i of value) {
        const status = aggregateStatus(i.checks);
        if (status === "critical") continue;
        out.push({
          node: i.node.name, nodeAddress: i.node.address, serviceAddress: i.service.address, port: i.service.port,
          tags: i.service.tags, status, serviceId: i.service.serviceId, serviceName: i.service.name, weights: i.service.weights,
        });
      }
      return out;
    },

    nodeByName: (name) => findNode(name),

    registrations(nodeId) {
      const n = catalogNodeById(db).get({ id: nodeId });
      const svcs = servicesOfNode(db).all({ nodeId }).map((s): CatalogServiceDef => ({
        id: s.serviceId, name: s.name, tags: s.tags, address: s.address, port: s.port, meta: s.meta,
        weights: s.weights, taggedAddresses: s.taggedAddresses, enableTagOverride: s.enableTagOverride,
      }));
      const chks = checksOfNode(db).all({ nodeId }).map((c): CatalogCheckDef => ({
        id: c.checkId, name: c.name, status: c.status, notes: c.notes, output: c.output, serviceId: c.serviceId, type: c.type, definition: c.definition,
      }));
      return { node: n && { id: n.id, name: n.name, address: n.address, datacenter: n.datacenter }, services: svcs, checks: chks };
    },
  };
  return reader;
}

/** For agents, which hold no replicated state (their plugins forward reads to a leader). */
export const emptyCatalogReader: CatalogReader = {
  services: () => ({ index: 1, value: {} }),
  serviceInstances: () => ({ index: 1, value: [] }),
  nodes: () => ({ index: 1, value: [] }),
  node: () => ({ index: 1, value: null }),
  nodeChecks: () => ({ index: 1, value: [] }),
  serviceChecks: () => ({ index: 1, value: [] }),
  checksInState: () => ({ index: 1, value: [] }),
  healthyInstances: () => [],
  nodeByName: () => undefined,
  registrations: () => ({ node: undefined, services: [], checks: [] }),
};

// A node's registrations, read for its anti-entropy digest (plugins/discovery/digest.ts) by every
// agent after each catalog change: prepared once per database handle (core/store/prepared.ts), not
// built by drizzle per call. In a burst of thousands of agents joining, each one's digest was three
// query builds on the leader.
const catalogNodeById = preparedQuery((db) => db.select().from(catalogNodes).where(eq(catalogNodes.id, sql.placeholder("id"))).prepare());
const servicesOfNode = preparedQuery((db) => db.select().from(services).where(eq(services.nodeId, sql.placeholder("nodeId"))).prepare());
const checksOfNode = preparedQuery((db) => db.select().from(checks).where(eq(checks.nodeId, sql.placeholder("nodeId"))).prepare());
