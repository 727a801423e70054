// A fake DnsCatalog for the DNS tests: services and nodes in plain arrays.
// Unlike the real adapter it does NOT drop critical instances, so the tests
// can check that the responder drops them itself.
import type { DnsCatalog, DnsInstance } from "../../plugins/dns/types.ts";

export function inst(node: string, nodeAddress: string, port: number, more: Partial<DnsInstance> = {}): DnsInstance {
  return { node, nodeAddress, serviceAddress: "", port, tags: [], status: "passing", ...more };
}

export function fakeCatalog(
  services: Record<string, DnsInstance[]>,
  nodes: { name: string; address: string }[],
): DnsCatalog & { calls: { name: string; tag?: string }[] } {
  const calls: { name: string; tag?: string }[] = [];
  return {
    calls,
    serviceInstances(name, tag) {
      calls.push({ name, tag });
      const key = Object.keys(services).find((k) => k.toLowerCase() === name.toLowerCase());
      const all = key ? services[key]! : [];
      return tag === undefined ? all : all.filter((i) => i.tags.some((t) => t.toLowerCase() === tag.toLowerCase()));
    },
    node(name) {
      return nodes.find((n) => n.name.toLowerCase() === name.toLowerCase());
    },
  };
}

/** The catalog most tests use. */
export function standardCatalog() {
  const big = Array.from({ length: 30 }, (_, i) => inst(`b${i}`, `10.1.0.${i + 1}`, 7000 + i));
  return fakeCatalog(
    {
      web: [
        inst("n1", "10.0.0.1", 8080, { tags: ["primary", "v1"] }),
        inst("n2", "10.0.0.2", 8080, { tags: ["V1"], status: "warning" }),
        inst("n3", "10.0.0.3", 8080, { tags: ["primary"], status: "critical" }),
      ],
      // Its own IP, different from the node's: an .addr. SRV target.
      api: [inst("n1", "10.0.0.1", 9000, { serviceAddress: "192.0.2.10" })],
      v6: [inst("n4", "fd00::4", 443)],
      ext: [inst("n1", "10.0.0.1", 5432, { serviceAddress: "db.example.com" })],
      mixed: [inst("n1", "10.0.0.1", 1, { serviceAddress: "db.example.com" }), inst("n2", "10.0.0.2", 2)],
      dup: [inst("n1", "10.0.0.1", 1), inst("n1", "10.0.0.1", 2)],
      dead: [inst("n1", "10.0.0.1", 1, { status: "critical" })],
      big,
    },
    [
      { name: "n1", address: "10.0.0.1" },
      { name: "n2", address: "10.0.0.2" },
      { name: "n4", address: "fd00::4" },
      { name: "Alias", address: "host.example.com" },
      { name: "leader-1", address: "10.0.0.9" },
    ],
  );
}
