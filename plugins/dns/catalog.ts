// The one place where the DNS plugin reads corral's state; everything else in
// the plugin sees only DnsCatalog (types.ts).
//
// It duck-types the state reader's `catalog` member for the two DNS-shaped
// reads the catalog offers — `healthyInstances(name, tag?)` (passing-or-warning
// instances, name and tag case-insensitive) and `nodeByName(name)` — and
// answers nothing when they are missing. It deliberately does not import the
// catalog's types, so the plugin builds whatever shape the catalog is in; when
// the read interface settles, the lead can type `state` as StateReader and
// call the methods directly (this function is the whole change).
import type { DnsCatalog, DnsInstance } from "./types.ts";

type Method = (...args: unknown[]) => unknown;

function method(obj: unknown, name: string): Method | undefined {
  const m = obj && typeof obj === "object" ? (obj as Record<string, unknown>)[name] : undefined;
  return typeof m === "function" ? (m as Method).bind(obj) : undefined;
}

export function catalogFromState(state: unknown): DnsCatalog {
  const catalog = state && typeof state === "object" ? (state as { catalog?: unknown }).catalog : undefined;
  const healthyInstances = method(catalog, "healthyInstances");
  const nodeByName = method(catalog, "nodeByName");
  return {
    serviceInstances(name, tag) {
      if (!healthyInstances) return [];
      const list = healthyInstances(name, tag);
      if (!Array.isArray(list)) return [];
      return (list as DnsInstance[])
        .filter((i) => i.status !== "critical")
        .map((i) => ({
          node: i.node,
          nodeAddress: i.nodeAddress,
          serviceAddress: i.serviceAddress ?? "",
          port: i.port,
          tags: i.tags ?? [],
          status: i.status,
          ...(i.weights ? { weights: i.weights } : {}),
        }));
    },
    node(name) {
      const n = nodeByName?.(name) as { name?: unknown; address?: unknown } | undefined;
      return n && typeof n.name === "string" && typeof n.address === "string" ? { name: n.name, address: n.address } : undefined;
    },
  };
}
