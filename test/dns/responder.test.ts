// The pure DNS responder over a fake catalog: every name form, health
// filtering, shuffling, SRV additionals, negative answers, flags, truncation,
// EDNS0, malformed input. Queries go through the wire format (respond), so
// what is checked is what a client would decode.
import { describe, expect, test } from "bun:test";
import * as dnsPacket from "dns-packet";
import { answer, respond, shuffle } from "../../plugins/dns/responder.ts";
import { mulberry32 } from "../sim/prng.ts";

const seededRandom = (seed: number) => mulberry32(seed).next;
import type { DnsCatalog, ResponderOptions } from "../../plugins/dns/types.ts";
import { fakeCatalog, inst, standardCatalog } from "./fake-catalog.ts";
import { decode } from "./wire.ts";

const NOW = 1_700_000_000_000;
const BASE: ResponderOptions = {
  domain: "corral.",
  datacenter: "dc1",
  serviceTtl: 0,
  nodeTtl: 0,
  udpAnswerLimit: 3,
  now: () => NOW,
  transport: "tcp",
};

interface QueryOpts {
  id?: number;
  rd?: boolean;
  /** Add an OPT record with this UDP payload size. */
  edns?: number;
  ednsVersion?: number;
  klass?: dnsPacket.RecordClass;
  opcode?: number;
}

function query(name: string, type: string, o: QueryOpts = {}): Buffer {
  const buf = dnsPacket.encode({
    type: "query",
    id: o.id ?? 4242,
    flags: o.rd ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ name, type: type as dnsPacket.RecordType, class: o.klass ?? "IN" }],
    additionals:
      o.edns !== undefined
        ? [{ type: "OPT", name: ".", udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: o.ednsVersion ?? 0, flags: 0, flag_do: false, options: [] }]
        : [],
  });
  if (o.opcode) buf.writeUInt16BE(buf.readUInt16BE(2) | (o.opcode << 11), 2);
  return buf;
}

function ask(
  name: string,
  type: string,
  o: QueryOpts = {},
  cfg: Partial<ResponderOptions> = {},
  catalog: DnsCatalog = standardCatalog(),
) {
  const r = respond(query(name, type, o), catalog, { ...BASE, ...cfg });
  if (!r) throw new Error("no response");
  const p = decode(r.response);
  return { ...r, p, size: r.response.length };
}

const data = (answers: dnsPacket.Answer[] | undefined, type?: string) =>
  (answers ?? []).filter((a) => !type || a.type === type).map((a) => (a as { data: unknown }).data);
const sorted = <T>(xs: T[]) => [...xs].sort();

describe("service names", () => {
  test("<svc>.service.<domain> A: every passing and warning instance; critical dropped", () => {
    const { p, rcode } = ask("web.service.corral", "A");
    expect(rcode).toBe("NOERROR");
    expect(p.rcode).toBe("NOERROR");
    expect(sorted(data(p.answers, "A"))).toEqual(["10.0.0.1", "10.0.0.2"]); // n2 is warning: kept; n3 critical: dropped
    expect(p.answers!.every((a) => a.name === "web.service.corral" && (a as dnsPacket.StringAnswer).ttl === 0)).toBe(true);
    expect(p.flag_aa).toBe(true);
    expect(p.flag_ra).toBe(false);
    expect(p.flag_tc).toBe(false);
    expect(p.id).toBe(4242);
    expect(p.questions).toEqual([{ name: "web.service.corral", type: "A", class: "IN" }]);
  });

  test("<tag>.<svc>.service.<domain>: only instances with the tag (tags case-insensitive)", () => {
    const cat = standardCatalog();
    expect(data(ask("primary.web.service.corral", "A", {}, {}, cat).p.answers)).toEqual(["10.0.0.1"]);
    expect(cat.calls.at(-1)).toEqual({ name: "web", tag: "primary" });
    expect(sorted(data(ask("v1.web.service.corral", "A").p.answers))).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  test("unknown tag, unknown service, only-critical service: NXDOMAIN with the SOA", () => {
    for (const name of ["nope.web.service.corral", "nothere.service.corral", "dead.service.corral"]) {
      const { p } = ask(name, "A");
      expect(p.rcode).toBe("NXDOMAIN");
      expect(p.answers).toEqual([]);
      expect(p.flag_aa).toBe(true);
      expect(p.authorities).toHaveLength(1);
      const soa = p.authorities![0] as dnsPacket.SoaAnswer;
      expect(soa.type).toBe("SOA");
      expect(soa.name).toBe("corral");
      expect(soa.data).toEqual({
        mname: "ns.corral",
        rname: "hostmaster.corral",
        serial: NOW / 1000,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 0,
      });
    }
  });

  test("names under the domain that are no lookup at all: NXDOMAIN", () => {
    for (const name of ["foo.corral", "service.corral", "a.b.c.service.corral", "web.service.dc2.corral", "web.service.x.y.corral"]) {
      expect(ask(name, "A").p.rcode).toBe("NXDOMAIN");
    }
  });

  test("AAAA for an IPv4-only service: NOERROR, no answers, SOA in authority", () => {
    const { p } = ask("web.service.corral", "AAAA");
    expect(p.rcode).toBe("NOERROR");
    expect(p.answers).toEqual([]);
    expect(p.authorities!.map((a) => a.type)).toEqual(["SOA"]);
    // TXT on an existing service name: same.
    expect(ask("web.service.corral", "TXT").p.rcode).toBe("NOERROR");
  });

  test("IPv6 instances answer AAAA (and not A)", () => {
    expect(data(ask("v6.service.corral", "AAAA").p.answers)).toEqual(["fd00::4"]);
    const a = ask("v6.service.corral", "A").p;
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers).toEqual([]);
  });

  test("service address wins over node address; duplicates are one record", () => {
    expect(data(ask("api.service.corral", "A").p.answers)).toEqual(["192.0.2.10"]);
    expect(data(ask("dup.service.corral", "A").p.answers)).toEqual(["10.0.0.1"]);
  });

  test("host-name addresses: CNAME when every instance is a host name, skipped among IPs", () => {
    const ext = ask("ext.service.corral", "A").p;
    expect(ext.answers!.map((a) => [a.type, (a as dnsPacket.StringAnswer).data])).toEqual([["CNAME", "db.example.com"]]);
    expect(data(ask("mixed.service.corral", "A").p.answers)).toEqual(["10.0.0.2"]);
    const srv = ask("ext.service.corral", "SRV").p;
    expect(data(srv.answers)).toEqual([{ priority: 1, weight: 1, port: 5432, target: "db.example.com" }]);
    expect(srv.additionals).toEqual([]); // no glue for a name outside our domain
  });

  test("datacenter forms: ours accepted as <dc> and <dc>.dc, others NXDOMAIN", () => {
    for (const name of ["web.service.dc1.corral", "web.service.dc1.dc.corral", "web.service.DC1.corral"]) {
      expect(sorted(data(ask(name, "A").p.answers))).toEqual(["10.0.0.1", "10.0.0.2"]);
    }
    expect(ask("web.service.dc2.corral", "A").p.rcode).toBe("NXDOMAIN");
    expect(ask("web.service.dc2.dc.corral", "A").p.rcode).toBe("NXDOMAIN");
  });

  test("names are case-insensitive; answers keep the question's spelling", () => {
    const cat = standardCatalog();
    const { p } = ask("WEB.Service.CORRAL", "A", {}, {}, cat);
    expect(sorted(data(p.answers))).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(p.answers![0]!.name).toBe("WEB.Service.CORRAL");
    expect(cat.calls.at(-1)).toEqual({ name: "web", tag: undefined });
    expect(data(ask("PRIMARY.web.SERVICE.corral", "A").p.answers)).toEqual(["10.0.0.1"]);
    expect(data(ask("N1.NODE.Corral", "A").p.answers)).toEqual(["10.0.0.1"]);
  });
});

describe("SRV", () => {
  test("priority 1, weight 1, port, target <node>.node.<dc>.<domain>, A records as additionals", () => {
    const { p } = ask("web.service.corral", "SRV");
    const srv = data(p.answers, "SRV") as dnsPacket.SrvData[];
    expect(srv.map((s) => s.target).sort()).toEqual(["n1.node.dc1.corral", "n2.node.dc1.corral"]);
    for (const s of srv) expect([s.priority, s.weight, s.port]).toEqual([1, 1, 8080]);
    const extra = (p.additionals ?? []).map((a) => [a.name, a.type, (a as dnsPacket.StringAnswer).data]).sort();
    expect(extra).toEqual([
      ["n1.node.dc1.corral", "A", "10.0.0.1"],
      ["n2.node.dc1.corral", "A", "10.0.0.2"],
    ]);
  });

  test("RFC 2782 names: _<svc>._tcp is every instance, _<svc>._<tag> filters", () => {
    expect((data(ask("_web._tcp.service.corral", "SRV").p.answers) as dnsPacket.SrvData[]).length).toBe(2);
    const tagged = data(ask("_web._primary.service.corral", "SRV").p.answers) as dnsPacket.SrvData[];
    expect(tagged.map((s) => s.target)).toEqual(["n1.node.dc1.corral"]);
    expect(ask("_web._nope.service.corral", "SRV").p.rcode).toBe("NXDOMAIN");
  });

  test("an instance with its own IP gets an .addr. target, which resolves by itself", () => {
    const { p } = ask("api.service.corral", "SRV");
    expect(data(p.answers)).toEqual([{ priority: 1, weight: 1, port: 9000, target: "c000020a.addr.dc1.corral" }]);
    expect(p.additionals!.map((a) => [a.name, a.type, (a as dnsPacket.StringAnswer).data])).toEqual([
      ["c000020a.addr.dc1.corral", "A", "192.0.2.10"],
    ]);
    expect(data(ask("c000020a.addr.dc1.corral", "A").p.answers)).toEqual(["192.0.2.10"]);
  });

  test("IPv6 targets get AAAA glue", () => {
    const { p } = ask("v6.service.corral", "SRV");
    expect(data(p.answers)).toEqual([{ priority: 1, weight: 1, port: 443, target: "n4.node.dc1.corral" }]);
    expect(p.additionals!.map((a) => [a.type, (a as dnsPacket.StringAnswer).data])).toEqual([["AAAA", "fd00::4"]]);
  });

  test("every SRV target also resolves by a direct query", () => {
    const { p } = ask("web.service.corral", "SRV");
    for (const s of data(p.answers) as dnsPacket.SrvData[]) {
      const direct = ask(s.target, "A").p;
      const glue = p.additionals!.find((a) => a.name === s.target) as dnsPacket.StringAnswer;
      expect(data(direct.answers)).toEqual([glue.data]);
    }
  });
});

describe("nodes and addresses", () => {
  test("<node>.node.<domain> A/AAAA, with and without the datacenter", () => {
    for (const name of ["n1.node.corral", "n1.node.dc1.corral", "n1.node.dc1.dc.corral"]) {
      expect(data(ask(name, "A").p.answers)).toEqual(["10.0.0.1"]);
    }
    expect(data(ask("n4.node.corral", "AAAA").p.answers)).toEqual(["fd00::4"]);
    const noA = ask("n4.node.corral", "A").p;
    expect([noA.rcode, noA.answers!.length, noA.authorities![0]!.type]).toEqual(["NOERROR", 0, "SOA"]);
    expect(ask("ghost.node.corral", "A").p.rcode).toBe("NXDOMAIN");
    expect(ask("n1.node.dc9.corral", "A").p.rcode).toBe("NXDOMAIN");
  });

  test("a node whose address is a host name is a CNAME", () => {
    const { p } = ask("alias.node.corral", "A");
    expect(p.answers!.map((a) => [a.type, (a as dnsPacket.StringAnswer).data])).toEqual([["CNAME", "host.example.com"]]);
  });

  test(".addr. names: 8 hex digits are A, 32 are AAAA, anything else NXDOMAIN", () => {
    expect(data(ask("0a000001.addr.dc1.corral", "A").p.answers)).toEqual(["10.0.0.1"]);
    expect(data(ask("fd000000000000000000000000000004.addr.dc1.corral", "AAAA").p.answers)).toEqual(["fd00::4"]);
    expect(ask("0a000001.addr.dc1.corral", "AAAA").p.answers).toEqual([]);
    expect(ask("zz000001.addr.dc1.corral", "A").p.rcode).toBe("NXDOMAIN");
  });
});

describe("apex, ANY, outside", () => {
  test("SOA and NS at the apex; NS names this node with glue when the catalog knows it", () => {
    const soa = ask("corral", "SOA").p;
    expect(soa.answers!.map((a) => a.type)).toEqual(["SOA"]);
    const ns = ask("corral", "NS", {}, { nodeName: "leader-1" }).p;
    expect(data(ns.answers)).toEqual(["leader-1.node.dc1.corral"]);
    expect(data(ns.additionals)).toEqual(["10.0.0.9"]);
    expect(data(ask("corral", "NS").p.answers)).toEqual(["ns.corral"]);
    const a = ask("corral", "A").p;
    expect([a.rcode, a.answers!.length]).toEqual(["NOERROR", 0]);
  });

  test("ANY on a service is A/AAAA plus SRV (with additionals)", () => {
    const { p } = ask("web.service.corral", "ANY");
    expect(sorted(p.answers!.map((a) => a.type))).toEqual(["A", "A", "SRV", "SRV"]);
    expect(p.additionals!.length).toBe(2);
  });

  test("names outside our domains are REFUSED: not authoritative, no recursion", () => {
    for (const rd of [false, true]) {
      const { p } = ask("example.com", "A", { rd });
      expect(p.rcode).toBe("REFUSED");
      expect(p.flag_aa).toBe(false);
      expect(p.flag_ra).toBe(false);
      expect(p.flag_rd).toBe(rd);
      expect(p.answers).toEqual([]);
      expect(p.authorities).toEqual([]);
    }
    expect(ask("corral.example.com", "A").p.rcode).toBe("REFUSED");
    expect(ask("", "A").p.rcode).toBe("REFUSED"); // the root
  });

  test("RD set for our domain: answered authoritatively, RD echoed, RA clear", () => {
    const { p } = ask("web.service.corral", "A", { rd: true });
    expect([p.rcode, p.flag_aa, p.flag_rd, p.flag_ra]).toEqual(["NOERROR", true, true, false]);
  });

  test("non-IN classes are refused", () => {
    expect(ask("web.service.corral", "TXT", { klass: "CH" }).p.rcode).toBe("REFUSED");
  });

  test("alt_domain answers the same names, in its own domain", () => {
    const cfg = { altDomain: "consul." };
    expect(sorted(data(ask("web.service.consul", "A", {}, cfg).p.answers))).toEqual(["10.0.0.1", "10.0.0.2"]);
    const srv = ask("web.service.dc1.consul", "SRV", {}, cfg).p;
    expect((data(srv.answers) as dnsPacket.SrvData[]).map((s) => s.target).sort()).toEqual([
      "n1.node.dc1.consul",
      "n2.node.dc1.consul",
    ]);
    const nx = ask("nothere.service.consul", "A", {}, cfg).p;
    expect((nx.authorities![0] as dnsPacket.SoaAnswer).name).toBe("consul");
    expect(data(ask("web.service.corral", "A", {}, cfg).p.answers).length).toBe(2);
    expect(ask("web.service.consul", "A").p.rcode).toBe("REFUSED"); // not configured
  });

  test("a multi-label domain", () => {
    const cfg = { domain: "cluster.internal." };
    expect(data(ask("n1.node.cluster.internal", "A", {}, cfg).p.answers)).toEqual(["10.0.0.1"]);
    expect(ask("n1.node.corral", "A", {}, cfg).p.rcode).toBe("REFUSED");
  });
});

describe("TTLs", () => {
  test("service_ttl on service records and glue, node_ttl on nodes, SOA minimum = the smaller", () => {
    const cfg = { serviceTtl: 30, nodeTtl: 60 };
    const a = ask("web.service.corral", "A", {}, cfg).p;
    expect(a.answers!.map((r) => (r as dnsPacket.StringAnswer).ttl)).toEqual([30, 30]);
    const srv = ask("web.service.corral", "SRV", {}, cfg).p;
    expect([...srv.answers!, ...srv.additionals!].every((r) => (r as dnsPacket.StringAnswer).ttl === 30)).toBe(true);
    expect((ask("n1.node.corral", "A", {}, cfg).p.answers![0] as dnsPacket.StringAnswer).ttl).toBe(60);
    const soa = ask("nothere.service.corral", "A", {}, cfg).p.authorities![0] as dnsPacket.SoaAnswer;
    expect([soa.ttl, soa.data.minimum]).toEqual([30, 30]);
  });
});

describe("shuffling", () => {
  test("the order changes with the seed, the set does not", () => {
    const orders = new Set<string>();
    let set: string | undefined;
    for (let seed = 1; seed <= 8; seed++) {
      const got = data(ask("big.service.corral", "A", {}, { random: seededRandom(seed) }).p.answers) as string[];
      expect(got).toHaveLength(30);
      orders.add(got.join(","));
      const s = sorted(got).join(",");
      set ??= s;
      expect(s).toBe(set);
    }
    expect(orders.size).toBeGreaterThan(1);
    // Same seed, same order.
    const again = () => data(ask("big.service.corral", "A", {}, { random: seededRandom(3) }).p.answers).join(",");
    expect(again()).toBe(again());
  });

  test("shuffle is a permutation", () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const ys = shuffle(xs, seededRandom(9));
    expect([...ys].sort((a, b) => a - b)).toEqual(xs);
    expect(ys).not.toEqual(xs);
  });
});

describe("truncation", () => {
  test("UDP: at most udp_answer_limit answers with TC set; TCP: everything", () => {
    const udp = ask("big.service.corral", "A", {}, { transport: "udp" });
    expect(udp.p.answers).toHaveLength(3);
    expect(udp.p.flag_tc).toBe(true);
    expect(udp.truncated).toBe(true);
    const tcp = ask("big.service.corral", "A", {}, { transport: "tcp" });
    expect(tcp.p.answers).toHaveLength(30);
    expect(tcp.p.flag_tc).toBe(false);
    // Under the limit: no TC.
    const small = ask("web.service.corral", "A", {}, { transport: "udp" });
    expect([small.p.answers!.length, small.p.flag_tc]).toEqual([2, false]);
  });

  test("UDP without an answer limit: cut to 512 bytes, TC set", () => {
    const r = ask("big.service.corral", "A", {}, { transport: "udp", udpAnswerLimit: 0 });
    expect(r.size).toBeLessThanOrEqual(512);
    expect(r.p.flag_tc).toBe(true);
    expect(r.p.answers!.length).toBeGreaterThan(3);
    expect(r.p.answers!.length).toBeLessThan(30);
    // One more record would not have fit.
    const one = 2 + 2 + 2 + 4 + 2 + 4 + "big.service.corral".length; // name + type, class, ttl, rdlength, rdata
    expect(r.size + one).toBeGreaterThan(512);
  });

  test("EDNS0: the client's UDP size is honoured (and an OPT comes back)", () => {
    const cfg = { transport: "udp" as const, udpAnswerLimit: 0 };
    const big = ask("big.service.corral", "A", { edns: 4096 }, cfg);
    expect(big.p.answers).toHaveLength(30);
    expect(big.p.flag_tc).toBe(false);
    expect(big.size).toBeGreaterThan(512);
    const opt = big.p.additionals!.find((a) => a.type === "OPT") as dnsPacket.OptAnswer;
    expect(opt.udpPayloadSize).toBe(4096);
    // A client size below 512 means 512.
    const tiny = ask("big.service.corral", "A", { edns: 100 }, cfg);
    expect(tiny.size).toBeLessThanOrEqual(512);
    expect(tiny.size).toBeGreaterThan(400);
    expect(tiny.p.flag_tc).toBe(true);
    // 700 bytes allowed: more than plain, fewer than all.
    const mid = ask("big.service.corral", "A", { edns: 700 }, cfg);
    expect(mid.size).toBeLessThanOrEqual(700);
    expect(mid.size).toBeGreaterThan(512);
    expect(mid.p.flag_tc).toBe(true);
  });

  test("trimmed SRV answers keep exactly their own glue", () => {
    const { p } = ask("big.service.corral", "SRV", {}, { transport: "udp" });
    expect(p.answers).toHaveLength(3);
    expect(p.flag_tc).toBe(true);
    const targets = (data(p.answers) as dnsPacket.SrvData[]).map((s) => s.target).sort();
    expect(p.additionals!.map((a) => a.name).sort()).toEqual(targets);
    const full = ask("big.service.corral", "SRV").p;
    expect([full.answers!.length, full.additionals!.length, full.flag_tc]).toEqual([30, 30, false]);
  });

  test("a huge answer over TCP is cut at 65535 bytes with TC", () => {
    const many = Array.from({ length: 4000 }, (_, i) => inst(`m${i}`, `10.${(i >> 8) & 255}.${i & 255}.1`, 1));
    const cat = fakeCatalog({ huge: many }, []);
    const r = ask("huge.service.corral", "A", {}, { transport: "tcp" }, cat);
    expect(r.size).toBeLessThanOrEqual(65535);
    expect(r.p.flag_tc).toBe(true);
    expect(r.p.answers!.length).toBeGreaterThan(1000);
  });
});

describe("malformed and unusual queries", () => {
  const cat = standardCatalog();
  const run = (raw: Uint8Array) => respond(raw, cat, BASE);

  test("garbage is FORMERR with the query's ID", () => {
    const raw = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 0x61]);
    const r = run(raw)!;
    expect(r.rcode).toBe("FORMERR");
    const p = decode(r.response);
    expect([p.id, p.rcode, p.flag_qr]).toEqual([0x1234, "FORMERR", true]);
    expect(run(Buffer.from([0xab, 0xcd]))!.rcode).toBe("FORMERR");
    expect(run(Buffer.from([0xab]))).toBeUndefined(); // not even an ID
    expect(run(new Uint8Array(0))).toBeUndefined();
  });

  test("random bytes never throw", () => {
    const rnd = seededRandom(77);
    for (let i = 0; i < 2000; i++) {
      const raw = Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
      raw[2] = (raw[2] ?? 0) & 0x7f;
      expect(() => run(raw)).not.toThrow();
    }
    // Valid query with a random tail byte flipped.
    const q = query("web.service.corral", "SRV", { edns: 1232 });
    for (let i = 0; i < q.length; i++) {
      const raw = Buffer.from(q);
      raw[i] = raw[i]! ^ 0xff;
      expect(() => run(raw)).not.toThrow();
    }
  });

  test("responses (QR=1) are not answered", () => {
    const r = Buffer.from(query("web.service.corral", "A"));
    r[2] = r[2]! | 0x80;
    expect(run(r)).toBeUndefined();
  });

  test("no question or several questions: FORMERR", () => {
    const none = dnsPacket.encode({ type: "query", id: 1, questions: [] });
    expect(run(none)!.rcode).toBe("FORMERR");
    const two = dnsPacket.encode({
      type: "query",
      id: 2,
      questions: [
        { name: "web.service.corral", type: "A" },
        { name: "n1.node.corral", type: "A" },
      ],
    });
    expect(run(two)!.rcode).toBe("FORMERR");
  });

  test("opcodes other than QUERY: NOTIMP", () => {
    const r = run(query("web.service.corral", "A", { opcode: 2 }))!; // STATUS
    expect(r.rcode).toBe("NOTIMP");
    expect(decode(r.response).opcode).toBe("STATUS");
  });

  test("EDNS version other than 0: BADVERS", () => {
    const r = run(query("web.service.corral", "A", { edns: 1232, ednsVersion: 1 }))!;
    expect(r.rcode).toBe("BADVERS");
    const p = decode(r.response);
    expect((p.additionals!.find((a) => a.type === "OPT") as dnsPacket.OptAnswer).extendedRcode).toBe(1);
  });

  test("a catalog that throws gives SERVFAIL and reports the error", () => {
    const errors: unknown[] = [];
    const broken: DnsCatalog = {
      serviceInstances: () => {
        throw new Error("db closed");
      },
      node: () => undefined,
    };
    const r = respond(query("web.service.corral", "A"), broken, { ...BASE, onError: (e) => errors.push(e) })!;
    expect(r.rcode).toBe("SERVFAIL");
    expect(decode(r.response).questions![0]!.name).toBe("web.service.corral");
    expect(String(errors[0])).toContain("db closed");
  });

  test("odd catalog data (bad addresses, huge node names) is skipped, not fatal", () => {
    const weird = fakeCatalog(
      {
        w: [
          inst("ok", "10.0.0.1", 1),
          inst("x".repeat(80), "10.0.0.2", 2),
          inst("bad", "not an address", 3),
          inst("empty", "", 4),
        ],
      },
      [],
    );
    const a = ask("w.service.corral", "A", {}, {}, weird).p;
    expect(sorted(data(a.answers))).toEqual(["10.0.0.1", "10.0.0.2"]);
    const srv = ask("w.service.corral", "SRV", {}, {}, weird).p;
    expect((data(srv.answers) as dnsPacket.SrvData[]).map((s) => s.target).sort()).toEqual([
      "0a000002.addr.dc1.corral", // the node name is too long for a label
      "ok.node.dc1.corral",
    ]);
  });

  test("answer() takes and returns packets, and never throws", () => {
    const p = answer({ id: 9, questions: [{ name: "web.service.corral", type: "A" }] }, standardCatalog(), BASE);
    expect(p.type).toBe("response");
    expect(p.answers).toHaveLength(2);
    expect(() => answer({ questions: [{} as dnsPacket.Question] }, standardCatalog(), BASE)).not.toThrow();
    expect(() => answer({ questions: [null as unknown as dnsPacket.Question] }, standardCatalog(), BASE)).not.toThrow();
  });
});

describe("SRV weights", () => {
  test("Consul-style weights: passing weight for passing instances, warning weight for warning ones", () => {
    const cat = fakeCatalog(
      {
        w: [
          inst("a", "10.0.0.1", 1, { weights: { passing: 10, warning: 1 } }),
          inst("b", "10.0.0.2", 2, { weights: { passing: 10, warning: 3 }, status: "warning" }),
          inst("c", "10.0.0.3", 3),
        ],
      },
      [],
    );
    const srv = data(ask("w.service.corral", "SRV", {}, {}, cat).p.answers) as dnsPacket.SrvData[];
    expect(srv.map((s) => [s.port, s.weight]).sort()).toEqual([
      [1, 10],
      [2, 3],
      [3, 1],
    ]);
  });
});
