// The DNS catalog of an agent. Agents hold no state, so — as a Consul agent
// forwards its DNS lookups to the servers — an agent answers from a local
// view of the names it was asked about: the first query for a service (or a
// node) starts a blocking query to a leader-role node through ctx.forward
// and waits for its first answer (bounded); later queries answer from the
// view, which the watch keeps current. Names nobody asked about for
// `idleMs` are dropped, and at most `maxNames` are watched at once.
//
// A name whose first answer has not come (leaders unreachable) makes the
// lookup throw, which the responder answers SERVFAIL: "no such service"
// would be a lie a resolver caches. Once a view exists it is kept while the
// watch retries, as Consul's stale reads are.
import * as dnsPacket from "dns-packet";
import { watchRemote } from "../../core/sdk/index.ts";
import { parseName } from "./names.ts";
import type { DnsCatalog, DnsInstance, DnsInstanceStatus } from "./types.ts";

export interface RemoteCatalogOptions {
  forward: (req: Request) => Promise<Response>;
  /** Our domains (normalized, e.g. ["corral", "consul"]) and datacenter, to read query names. */
  domains: readonly string[];
  datacenter: string;
  /** `wait` of the blocking queries. */
  waitMs: number;
  /** How long a first lookup waits for the leader's answer before SERVFAIL. */
  firstAnswerMs: number;
  /** A name not asked about for this long stops being watched. */
  idleMs: number;
  maxNames: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

export class CatalogUnavailable extends Error {}

interface Watched<T> {
  /** undefined until the first answer. */
  value: T | undefined;
  /** Resolves on the first answer or the first failure (then `settled` is true). */
  first: Promise<void>;
  settled: boolean;
  lastUsed: number;
  stop(): void;
}

interface HealthEntry {
  Node?: { Node?: string; Address?: string };
  Service?: { Address?: string; Port?: number; Tags?: string[] | null; Weights?: { Passing?: number; Warning?: number } };
  Checks?: { Status?: string }[];
}

/** The worst status among an instance's checks (node checks included, as /v1/health/service lists them). */
function worst(checks: { Status?: string }[] | undefined): DnsInstanceStatus {
  let out: DnsInstanceStatus = "passing";
  for (const c of checks ?? []) {
    if (c.Status === "critical") return "critical";
    if (c.Status === "warning") out = "warning";
  }
  return out;
}

/** The instances of one /v1/health/service answer, as DNS sees them. */
function instancesFromHealth(body: unknown): DnsInstance[] {
  if (!Array.isArray(body)) return [];
  return (body as HealthEntry[]).flatMap((e) => {
    if (!e.Node || !e.Service) return [];
    const w = e.Service.Weights;
    return [{
      node: e.Node.Node ?? "",
      nodeAddress: e.Node.Address ?? "",
      serviceAddress: e.Service.Address ?? "",
      port: e.Service.Port ?? 0,
      tags: e.Service.Tags ?? [],
      status: worst(e.Checks),
      ...(w ? { weights: { passing: w.Passing ?? 1, warning: w.Warning ?? 1 } } : {}),
    }];
  });
}

/** A node of one /v1/catalog/node answer (null for an unknown node). */
function nodeFromCatalog(body: unknown): { name: string; address: string } | null {
  const n = (body as { Node?: { Node?: unknown; Address?: unknown } } | null)?.Node;
  return n && typeof n.Node === "string" && typeof n.Address === "string" ? { name: n.Node, address: n.Address } : null;
}

export class RemoteCatalog implements DnsCatalog {
  private readonly services = new Map<string, Watched<DnsInstance[]>>();
  private readonly nodes = new Map<string, Watched<{ name: string; address: string } | null>>();
  private readonly now: () => number;

  constructor(private readonly o: RemoteCatalogOptions) {
    this.now = o.now ?? Date.now;
  }

  /** prepareQuestions for a wire-format query (undecodable: nothing to watch). Never throws. */
  prepare(query: Uint8Array): Promise<void> | undefined {
    let questions: dnsPacket.Question[];
    try {
      questions = dnsPacket.decode(Buffer.from(query)).questions ?? [];
    } catch {
      return undefined; // the responder answers FORMERR
    }
    return this.prepareQuestions(questions);
  }

  /**
   * Watches what a query asks about. Returns a promise that resolves when
   * the name's first answer came (or after firstAnswerMs), or undefined when
   * there is nothing to wait for — the name is already settled or is not one
   * we watch — so the common query is answered synchronously. Never rejects.
   */
  prepareQuestions(questions: readonly dnsPacket.Question[]): Promise<void> | undefined {
    // The responder answers anything but exactly one question FORMERR: watch nothing for it.
    if (questions.length !== 1) return undefined;
    const l = parseName(questions[0]!.name, this.o.domains, this.o.datacenter);
    const w = l.kind === "service" ? this.watchService(l.service) : l.kind === "node" ? this.watchNode(l.node) : undefined;
    if (!w || w.settled) return undefined; // watch() touched lastUsed
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([w.first, new Promise<void>((r) => (timer = setTimeout(r, this.o.firstAnswerMs)))]).then(() =>
      clearTimeout(timer),
    );
  }

  serviceInstances(name: string, tag?: string): DnsInstance[] {
    const w = this.services.get(name);
    if (!w || w.value === undefined) throw new CatalogUnavailable(`no answer from the leaders yet for service "${name}"`);
    w.lastUsed = this.now();
    const t = tag?.toLowerCase();
    return w.value.filter((i) => i.status !== "critical" && (t === undefined || i.tags.some((x) => x.toLowerCase() === t)));
  }

  node(name: string): { name: string; address: string } | undefined {
    const w = this.nodes.get(name);
    if (!w || w.value === undefined) throw new CatalogUnavailable(`no answer from the leaders yet for node "${name}"`);
    w.lastUsed = this.now();
    return w.value ?? undefined;
  }

  /** Stops watching names nobody asked about for idleMs. */
  sweep(): void {
    const cutoff = this.now() - this.o.idleMs;
    for (const map of [this.services, this.nodes] as Map<string, Watched<unknown>>[]) {
      for (const [k, w] of map) {
        if (w.lastUsed < cutoff) {
          w.stop();
          map.delete(k);
        }
      }
    }
  }

  /** Names being watched (for tests and metrics). */
  size(): number {
    return this.services.size + this.nodes.size;
  }

  close(): void {
    for (const w of [...this.services.values(), ...this.nodes.values()]) w.stop();
    this.services.clear();
    this.nodes.clear();
  }

  private watchService(name: string): Watched<DnsInstance[]> {
    return this.watch(this.services, name, `/v1/health/service/${encodeURIComponent(name)}`, instancesFromHealth);
  }

  private watchNode(name: string): Watched<{ name: string; address: string } | null> {
    return this.watch(this.nodes, name, `/v1/catalog/node/${encodeURIComponent(name)}`, nodeFromCatalog);
  }

  private watch<T>(map: Map<string, Watched<T>>, name: string, path: string, read: (body: unknown) => T): Watched<T> {
    let w = map.get(name);
    if (w) {
      w.lastUsed = this.now();
      return w;
    }
    if (this.size() >= this.o.maxNames) this.evictOldest();
    let resolveFirst!: () => void;
    const entry: Watched<T> = {
      value: undefined,
      first: new Promise<void>((r) => (resolveFirst = r)),
      settled: false,
      lastUsed: this.now(),
      stop: () => {},
    };
    const settle = () => {
      entry.settled = true;
      resolveFirst();
    };
    const handle = watchRemote(this.o.forward, path, this.o.waitMs, {
      update: (body) => {
        entry.value = read(body);
        settle();
      },
      error: (err) => {
        this.o.onError?.(err);
        settle(); // the lookup answers SERVFAIL now rather than at firstAnswerMs
      },
    });
    entry.stop = () => handle.stop();
    map.set(name, entry);
    return entry;
  }

  private evictOldest(): void {
    let oldest: { map: Map<string, Watched<unknown>>; key: string; at: number } | undefined;
    for (const map of [this.services, this.nodes] as Map<string, Watched<unknown>>[]) {
      for (const [key, w] of map) if (!oldest || w.lastUsed < oldest.at) oldest = { map, key, at: w.lastUsed };
    }
    if (!oldest) return;
    oldest.map.get(oldest.key)!.stop();
    oldest.map.delete(oldest.key);
  }
}
