// The pure DNS responder: a decoded query and a catalog in, a response out.
// No sockets, no clocks or randomness except the injected ones, and it never
// throws: a malformed query is FORMERR, an unexpected failure SERVFAIL.
//
// What it answers (docs/dns.md has the operator's view):
// - service names: A/AAAA of every passing or warning instance (service
//   address, else node address), shuffled; SRV (priority 1, weight 1 or the
//   instance's weights) with the targets' A/AAAA records as additionals.
// - node names: the node's address; `.addr.` names: the address they spell.
// - the domain apex: SOA and NS.
// - unknown names under our domain: NXDOMAIN + SOA; known names without
//   records of the asked type: NOERROR, no answers + SOA.
// - names outside our domains: REFUSED (no recursion: RA is never set).
// Responses are authoritative (AA=1), RD is echoed.
import { isIPv4, isIPv6 } from "node:net";
import * as dnsPacket from "dns-packet";
import { ipToHex, isEncodableName, isHostName, normalizeDomain, parseName, type Lookup } from "./names.ts";
import type { DnsCatalog, DnsInstance, ResponderOptions } from "./types.ts";

type Packet = dnsPacket.Packet;
type Answer = dnsPacket.Answer;
type Question = dnsPacket.Question;

/** Largest UDP response for a client that did not send EDNS0 (RFC 1035). */
export const PLAIN_UDP_SIZE = 512;
/** Largest UDP response we send whatever a client's EDNS0 size; also what we advertise. */
export const MAX_EDNS_UDP_SIZE = 4096;
/** Largest DNS message over TCP (the 2-byte length frame). */
export const MAX_TCP_SIZE = 65535;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Extended rcode (EDNS0): the query's EDNS version is not 0. */
const BADVERS = 16;

/** SOA timers, as Consul: refresh 1h, retry 10m, expire 24h. */
const SOA_REFRESH = 3600;
const SOA_RETRY = 600;
const SOA_EXPIRE = 86400;

/**
 * Answer one query. Always returns a response packet (never throws).
 * With `transport: "udp"` the response is trimmed to the UDP limits
 * (udpAnswerLimit records, 512 bytes or the client's EDNS0 size) with TC set
 * when anything was cut; over TCP only the 65535-byte frame limits it.
 */
export function answer(query: Packet, catalog: DnsCatalog, opts: ResponderOptions & { onError?: (err: unknown) => void }): Packet {
  try {
    return answerOrThrow(query, catalog, opts);
  } catch (err) {
    opts.onError?.(err);
    return reply(query, RCODE.SERVFAIL, { aa: false, questions: safeQuestions(query) });
  }
}

export interface RespondResult {
  /** The encoded response. */
  response: Buffer;
  /** Type asked (e.g. "A"), "" when the query had no readable question. */
  qtype: string;
  /** Response code name, e.g. "NOERROR", "NXDOMAIN", "BADVERS". */
  rcode: string;
  truncated: boolean;
}

/**
 * Decode, answer and encode one wire-format message (decodeQuery, then
 * respondDecoded). Returns undefined when nothing should be sent back: the
 * message is itself a response (QR=1; never answer those, so two servers
 * cannot ping-pong) or too short to carry even an ID. Anything else
 * undecodable is FORMERR.
 */
export function respond(
  raw: Uint8Array,
  catalog: DnsCatalog,
  opts: ResponderOptions & { onError?: (err: unknown) => void },
): RespondResult | undefined {
  const d = decodeQuery(raw);
  return d.ok ? respondDecoded(d.query, catalog, opts) : d.result;
}

/**
 * The first half of respond: a decoded query to answer, or the final result
 * when there is none (undefined: send nothing; else FORMERR).
 */
export type DecodedQuery =
  | { ok: true; query: dnsPacket.DecodedPacket }
  | { ok: false; result: RespondResult | undefined };

export function decodeQuery(raw: Uint8Array): DecodedQuery {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length >= 3 && buf[2]! & 0x80) return { ok: false, result: undefined }; // QR: a response
  try {
    return { ok: true, query: dnsPacket.decode(buf) };
  } catch {
    if (buf.length < 2) return { ok: false, result: undefined };
    const formerr = reply({ id: buf.readUInt16BE(0), flags: buf.length >= 4 ? buf.readUInt16BE(2) : 0 }, RCODE.FORMERR, { aa: false });
    return { ok: false, result: { response: dnsPacket.encode(formerr), qtype: "", rcode: "FORMERR", truncated: false } };
  }
}

/** The second half of respond: answer and encode a query decodeQuery decoded. Never throws. */
export function respondDecoded(
  query: dnsPacket.DecodedPacket,
  catalog: DnsCatalog,
  opts: ResponderOptions & { onError?: (err: unknown) => void },
): RespondResult {
  const qtype = query.questions?.length === 1 ? String(query.questions[0]!.type) : "";
  const packet = answer(query, catalog, opts);
  let response: Buffer;
  try {
    response = dnsPacket.encode(packet);
  } catch (err) {
    opts.onError?.(err);
    const servfail = reply(query, RCODE.SERVFAIL, { aa: false });
    response = dnsPacket.encode(servfail);
    return { response, qtype, rcode: "SERVFAIL", truncated: false };
  }
  return { response, qtype, rcode: rcodeName(packet), truncated: ((packet.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0 };
}

/** The response code of a packet, extended codes (EDNS0 OPT) included. */
export function rcodeName(packet: Packet): string {
  const low = (packet.flags ?? 0) & 0xf;
  const opt = packet.additionals?.find((a) => a.type === "OPT") as dnsPacket.OptAnswer | undefined;
  const code = ((opt?.extendedRcode ?? 0) << 4) | low;
  if (code === BADVERS) return "BADVERS";
  const names = Object.entries(RCODE).find(([, v]) => v === code);
  return names ? names[0] : `RCODE_${code}`;
}

// ---------------------------------------------------------------------------

interface Found {
  /** Whether the name exists (false: NXDOMAIN). */
  exists: boolean;
  answers: Answer[];
  additionals: Answer[];
}

const NOT_FOUND: Found = { exists: false, answers: [], additionals: [] };

function answerOrThrow(query: Packet, catalog: DnsCatalog, opts: ResponderOptions): Packet {
  const flags = query.flags ?? 0;
  const opcode = (flags >> 11) & 0xf;
  const questions = query.questions ?? [];
  const opt = (query.additionals ?? []).filter((a) => a.type === "OPT") as dnsPacket.OptAnswer[];
  if (opt.length > 1) return reply(query, RCODE.FORMERR, { aa: false });
  const edns = opt[0];
  const ednsOut = edns ? [ourOpt(0)] : [];

  if (opcode !== 0) return reply(query, RCODE.NOTIMP, { aa: false, questions: safeQuestions(query), additionals: ednsOut });
  if (questions.length !== 1) return reply(query, RCODE.FORMERR, { aa: false, additionals: ednsOut });
  if (edns && edns.ednsVersion !== 0) {
    // RFC 6891 §6.1.3: BADVERS (16) = extended rcode 1 in the OPT, 0 in the header.
    return reply(query, RCODE.NOERROR, { aa: false, questions, additionals: [ourOpt(BADVERS >> 4)] });
  }

  const q = questions[0]!;
  const klass = q.class ?? "IN";
  const domains = [normalizeDomain(opts.domain)];
  if (opts.altDomain) domains.push(normalizeDomain(opts.altDomain));
  const lookup = parseName(q.name, domains, opts.datacenter);
  if (lookup.kind === "outside" || (klass !== "IN" && klass !== "ANY")) {
    return reply(query, RCODE.REFUSED, { aa: false, questions, additionals: ednsOut });
  }

  const found = find(lookup, q, catalog, opts);
  const negTtl = Math.min(opts.serviceTtl, opts.nodeTtl);
  const soa = soaRecord(lookup.domain, negTtl, opts);
  let response: Packet;
  if (!found.exists) {
    response = reply(query, RCODE.NXDOMAIN, { aa: true, questions, authorities: [soa], additionals: ednsOut });
  } else if (found.answers.length === 0) {
    response = reply(query, RCODE.NOERROR, { aa: true, questions, authorities: [soa], additionals: ednsOut });
  } else {
    response = reply(query, RCODE.NOERROR, {
      aa: true,
      questions,
      answers: found.answers,
      additionals: [...found.additionals, ...ednsOut],
    });
  }

  const udp = opts.transport === "udp";
  const maxSize = udp
    ? edns
      ? Math.min(Math.max(edns.udpPayloadSize || PLAIN_UDP_SIZE, PLAIN_UDP_SIZE), MAX_EDNS_UDP_SIZE)
      : PLAIN_UDP_SIZE
    : MAX_TCP_SIZE;
  return fit(response, maxSize, udp ? opts.udpAnswerLimit : 0);
}

function find(lookup: Exclude<Lookup, { kind: "outside" }>, q: Question, catalog: DnsCatalog, opts: ResponderOptions): Found {
  switch (lookup.kind) {
    case "unknown":
      return NOT_FOUND;
    case "apex":
      return apexRecords(q, lookup.domain, catalog, opts);
    case "service": {
      const instances = catalog.serviceInstances(lookup.service, lookup.tag).filter((i) => i.status !== "critical");
      if (instances.length === 0) return NOT_FOUND;
      return serviceRecords(q, lookup.domain, shuffle(instances, opts.random ?? Math.random), opts);
    }
    case "node": {
      const node = catalog.node(lookup.node);
      if (!node) return NOT_FOUND;
      return { exists: true, answers: addressRecords(q, node.address, opts.nodeTtl, true), additionals: [] };
    }
    case "addr":
      return { exists: true, answers: addressRecords(q, lookup.ip, opts.nodeTtl, false), additionals: [] };
  }
}

/** A/AAAA for an IP when the type asks for it; a CNAME for a host name (if allowed). */
function addressRecords(q: Question, address: string, ttl: number, cnameForHostName: boolean): Answer[] {
  const t: string = q.type;
  if (isIPv4(address)) return t === "A" || t === "ANY" ? [{ type: "A", name: q.name, ttl, data: address }] : [];
  if (isIPv6(address)) return t === "AAAA" || t === "ANY" ? [{ type: "AAAA", name: q.name, ttl, data: address }] : [];
  // A CNAME answers every type: the name is an alias, nothing else lives there.
  if (cnameForHostName && isHostName(address)) return [{ type: "CNAME", name: q.name, ttl, data: stripDot(address) }];
  return [];
}

function serviceRecords(q: Question, domain: string, instances: DnsInstance[], opts: ResponderOptions): Found {
  const t: string = q.type;
  const ttl = opts.serviceTtl;
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const seen = new Set<string>();
  const add = (list: Answer[], key: string, a: Answer) => {
    if (seen.has(key)) return;
    seen.add(key);
    list.push(a);
  };
  const addressOf = (i: DnsInstance) => i.serviceAddress || i.nodeAddress;

  if (t === "A" || t === "AAAA" || t === "CNAME") {
    const usable = instances.filter((i) => isIPv4(addressOf(i)) || isIPv6(addressOf(i)) || isHostName(addressOf(i)));
    if (usable.length > 0 && usable.every((i) => isHostName(addressOf(i)))) {
      // Only host names: one CNAME (a CNAME cannot share its name with other records).
      return { exists: true, answers: [{ type: "CNAME", name: q.name, ttl, data: stripDot(addressOf(usable[0]!)) }], additionals: [] };
    }
  }
  if (t === "A" || t === "AAAA" || t === "ANY") {
    for (const i of instances) {
      const a = addressOf(i);
      if (isIPv4(a) && (t === "A" || t === "ANY")) add(answers, `A ${a}`, { type: "A", name: q.name, ttl, data: a });
      if (isIPv6(a) && (t === "AAAA" || t === "ANY")) add(answers, `AAAA ${a}`, { type: "AAAA", name: q.name, ttl, data: a });
    }
  }
  if (t === "SRV" || t === "ANY") {
    const dc = opts.datacenter.toLowerCase();
    for (const i of instances) {
      const s = srvTarget(i, dc, domain);
      if (!s) continue;
      add(answers, `SRV ${s.target.toLowerCase()} ${i.port}`, {
        type: "SRV",
        name: q.name,
        ttl,
        data: { priority: 1, weight: srvWeight(i), port: i.port, target: s.target },
      });
      if (s.glue) add(additionals, `${s.glue.type} ${s.target.toLowerCase()} ${s.glue.ip}`, { type: s.glue.type, name: s.target, ttl, data: s.glue.ip });
    }
  }
  return { exists: true, answers, additionals };
}

/** Consul: Weights.Passing for a passing instance, Weights.Warning for a warning one; 1 when unset. */
function srvWeight(i: DnsInstance): number {
  const w = i.status === "warning" ? i.weights?.warning : i.weights?.passing;
  return typeof w === "number" && Number.isFinite(w) ? Math.min(65535, Math.max(0, Math.round(w))) : 1;
}

/**
 * The SRV target of an instance, as Consul names it:
 * - the node's address: `<node>.node.<dc>.<domain>` (resolves to the node address);
 * - its own IP: `<hex-ip>.addr.<dc>.<domain>` (so two instances on one node
 *   with different addresses, and a direct A query of the target, agree);
 * - a host name: that host name, with no glue.
 */
export function srvTarget(
  i: DnsInstance,
  dc: string,
  domain: string,
): { target: string; glue?: { type: "A" | "AAAA"; ip: string } } | undefined {
  const address = i.serviceAddress || i.nodeAddress;
  const family = isIPv4(address) ? "A" : isIPv6(address) ? "AAAA" : undefined;
  if (!family) return isHostName(address) ? { target: stripDot(address) } : undefined;
  const usesNodeAddress = !i.serviceAddress || i.serviceAddress === i.nodeAddress;
  const nodeName = `${i.node}.node.${dc}.${domain}`;
  if (usesNodeAddress && i.node !== "" && isEncodableName(nodeName)) return { target: nodeName, glue: { type: family, ip: address } };
  return { target: `${ipToHex(address)}.addr.${dc}.${domain}`, glue: { type: family, ip: address } };
}

function apexRecords(q: Question, domain: string, catalog: DnsCatalog, opts: ResponderOptions): Found {
  const t: string = q.type;
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const negTtl = Math.min(opts.serviceTtl, opts.nodeTtl);
  if (t === "SOA" || t === "ANY") answers.push({ ...soaRecord(domain, negTtl, opts), name: q.name });
  if (t === "NS" || t === "ANY") {
    const dc = opts.datacenter.toLowerCase();
    const self = opts.nodeName ? catalog.node(opts.nodeName.toLowerCase()) : undefined;
    const ip = self && (isIPv4(self.address) ? "A" : isIPv6(self.address) ? "AAAA" : undefined);
    const target = self && ip ? `${self.name}.node.${dc}.${domain}` : `ns.${domain}`;
    answers.push({ type: "NS", name: q.name, ttl: opts.nodeTtl, data: target });
    if (self && ip) additionals.push({ type: ip, name: target, ttl: opts.nodeTtl, data: self.address });
  }
  return { exists: true, answers, additionals };
}

function soaRecord(domain: string, ttl: number, opts: ResponderOptions): dnsPacket.SoaAnswer {
  const serial = Math.floor((opts.now ?? Date.now)() / 1000) >>> 0;
  return {
    type: "SOA",
    name: domain,
    ttl,
    data: {
      mname: `ns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial,
      refresh: SOA_REFRESH,
      retry: SOA_RETRY,
      expire: SOA_EXPIRE,
      minimum: ttl,
    },
  };
}

/**
 * Trim `response` to `maxSize` bytes and at most `answerLimit` answers (0 = no
 * count limit): keeps the longest prefix of the (shuffled) answers that fits,
 * with the additional records that belong to the kept SRV targets, and sets TC
 * when any answer was cut.
 */
export function fit(response: Packet, maxSize: number, answerLimit: number): Packet {
  const answers = response.answers ?? [];
  const all = response.additionals ?? [];
  const build = (k: number): Packet => {
    const kept = answers.slice(0, k);
    if (k === answers.length) return { ...response, answers: kept };
    const targets = new Set(kept.filter((a) => a.type === "SRV").map((a) => (a as dnsPacket.SrvAnswer).data.target.toLowerCase()));
    const additionals = all.filter((a) => a.type === "OPT" || targets.has(a.name.toLowerCase()));
    return { ...response, answers: kept, additionals };
  };
  const fits = (k: number) => dnsPacket.encodingLength(build(k)) <= maxSize;
  let hi = answerLimit > 0 ? Math.min(answers.length, answerLimit) : answers.length;
  if (hi === answers.length && fits(hi)) return response;
  // Largest k in [0, hi] that fits (fits is monotone in k).
  let lo = 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  const out = build(lo);
  out.flags = (out.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE;
  return out;
}

function reply(
  query: Packet,
  rcode: number,
  parts: { aa: boolean; questions?: Question[]; answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] },
): Packet {
  const qflags = query.flags ?? 0;
  const opcode = (qflags >> 11) & 0xf;
  return {
    type: "response",
    id: query.id ?? 0,
    flags: (opcode << 11) | (qflags & dnsPacket.RECURSION_DESIRED) | (parts.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rcode,
    questions: parts.questions ?? [],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: parts.additionals ?? [],
  };
}

function ourOpt(extendedRcode: number): dnsPacket.OptAnswer {
  return { type: "OPT", name: ".", udpPayloadSize: MAX_EDNS_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/** The query's question, if echoing it back cannot fail. */
function safeQuestions(query: Packet): Question[] {
  const qs = query.questions ?? [];
  return qs.length === 1 && typeof qs[0]?.name === "string" && isEncodableName(qs[0].name || "x") ? qs : [];
}

function stripDot(name: string): string {
  return name.replace(/\.$/, "");
}

/** Fisher–Yates over a copy, driven by `random` (values in [0, 1)). */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
