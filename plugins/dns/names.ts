// Query names: which of our names a question asks for.
//
//   <svc>.service[.<dc>[.dc]].<domain>          instances of a service
//   <tag>.<svc>.service[.<dc>[.dc]].<domain>    ... carrying a tag
//   _<svc>._<tag>.service[.<dc>[.dc]].<domain>  RFC 2782 (`_tcp` = no tag filter)
//   <node>.node[.<dc>[.dc]].<domain>            a node (may contain dots)
//   <hex-ip>.addr[.<dc>[.dc]].<domain>          an address spelled in hex (SRV targets)
//
// As in Consul, the rightmost `service`/`node`/`addr` label decides the kind;
// labels to its right must be nothing, our datacenter, or `<dc>.dc`.
// Everything is compared lowercased.
import { isIPv4, isIPv6 } from "node:net";

export type Lookup =
  /** Not under any of our domains: refused. */
  | { kind: "outside" }
  /** The domain itself (SOA, NS). */
  | { kind: "apex"; domain: string }
  | { kind: "service"; domain: string; service: string; tag?: string }
  | { kind: "node"; domain: string; node: string }
  | { kind: "addr"; domain: string; ip: string; family: 4 | 6 }
  /** Under our domain but no name we serve: NXDOMAIN. */
  | { kind: "unknown"; domain: string };

/** "Corral." / ".corral" / "corral" -> "corral"; "" for the root. */
export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/^\.+|\.+$/g, "");
}

export function parseName(qname: string, domains: readonly string[], datacenter: string): Lookup {
  const name = qname.toLowerCase().replace(/\.$/, "");
  const labels = name === "" ? [] : name.split(".");
  let domain: string | undefined;
  let rest: string[] = [];
  // Longest domain first, so "a.corral." wins over "corral." when both are ours.
  for (const d of [...domains].sort((a, b) => b.length - a.length)) {
    const dl = d === "" ? [] : d.split(".");
    if (dl.length > labels.length) continue;
    if (dl.every((l, i) => labels[labels.length - dl.length + i] === l)) {
      domain = d;
      rest = labels.slice(0, labels.length - dl.length);
      break;
    }
  }
  if (domain === undefined) return { kind: "outside" };
  if (rest.length === 0) return { kind: "apex", domain };

  let at = -1;
  for (let i = rest.length - 1; i >= 0; i--) {
    if (rest[i] === "service" || rest[i] === "node" || rest[i] === "addr") {
      at = i;
      break;
    }
  }
  const unknown = { kind: "unknown", domain } as const;
  if (at < 0) return unknown;
  const kind = rest[at]!;
  const parts = rest.slice(0, at);
  const suffix = rest.slice(at + 1);
  const dc = datacenter.toLowerCase();
  const dcOk =
    suffix.length === 0 ||
    (suffix.length === 1 && suffix[0] === dc) ||
    (suffix.length === 2 && suffix[0] === dc && suffix[1] === "dc");
  if (!dcOk || parts.length === 0 || parts.some((p) => p === "")) return unknown;

  if (kind === "node") return { kind: "node", domain, node: parts.join(".") };

  if (kind === "addr") {
    if (parts.length !== 1) return unknown;
    const ip = hexToIp(parts[0]!);
    return ip ? { kind: "addr", domain, ...ip } : unknown;
  }

  // service
  if (parts.length === 1) return { kind: "service", domain, service: parts[0]! };
  if (parts.length === 2) {
    const [a, b] = parts as [string, string];
    if (a.startsWith("_") && b.startsWith("_")) {
      const service = a.slice(1);
      const tag = b.slice(1);
      if (service === "" || tag === "") return unknown;
      return tag === "tcp" ? { kind: "service", domain, service } : { kind: "service", domain, service, tag };
    }
    return { kind: "service", domain, service: b, tag: a };
  }
  return unknown;
}

/** 192.0.2.10 -> "c000020a"; an IPv6 address -> 32 hex digits; undefined for anything else. */
export function ipToHex(ip: string): string | undefined {
  if (isIPv4(ip)) return ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("");
  if (isIPv6(ip)) {
    const groups = expandIPv6(ip);
    return groups?.map((g) => g.toString(16).padStart(4, "0")).join("");
  }
  return undefined;
}

/** The inverse of ipToHex: 8 hex digits -> IPv4, 32 -> IPv6. */
export function hexToIp(hex: string): { ip: string; family: 4 | 6 } | undefined {
  if (!/^[0-9a-f]+$/i.test(hex)) return undefined;
  if (hex.length === 8) {
    const o = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return { ip: o.join("."), family: 4 };
  }
  if (hex.length === 32) {
    const g: string[] = [];
    for (let i = 0; i < 32; i += 4) g.push(parseInt(hex.slice(i, i + 4), 16).toString(16));
    return { ip: g.join(":"), family: 6 };
  }
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address (handles "::" and an embedded IPv4 tail). */
function expandIPv6(ip: string): number[] | undefined {
  let text = ip.replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split(".").map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...Array<string>(fill).fill("0"), ...t];
  if (all.length !== 8) return undefined;
  return all.map((g) => parseInt(g, 16));
}

/** Whether `name` can be written as a DNS name (labels of 1–63 bytes, 253 in all). */
export function isEncodableName(name: string): boolean {
  const n = name.replace(/\.$/, "");
  if (n === "" || Buffer.byteLength(n) > 253) return false;
  return n.split(".").every((l) => l.length > 0 && Buffer.byteLength(l) <= 63);
}

/** Whether `address` is a host name we may point a CNAME or SRV target at (not an IP). */
export function isHostName(address: string): boolean {
  return address !== "" && !isIPv4(address) && !isIPv6(address) && isEncodableName(address) && !/\s/.test(address);
}
