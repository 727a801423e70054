// What task templates read, fetched from this node's own API and kept
// current through blocking queries (`index` + `wait`, docs/discovery.md):
// one watch per distinct thing for the whole agent, shared by every
// template that reads it, stopped when the last reader lets go.
//
// Who asks: KV keys and the catalog with the agent's local token (as a
// Nomad client reads Consul with its own token); variables with the task's
// own workload identity, never the agent's, so a template reads exactly the
// variables its task could (jobs/<job>/...). Variables block too (their
// index is X-Corral-Index); a variable the identity may not read answers
// 403 at once, so that is asked again only every VAR_REFRESH_MS.
import { createHash } from "node:crypto";
import { abortableSleep, depId, watchLoop, type DepValue, type KvPair, type ServiceEntry, type TemplateDep } from "../../../core/sdk/index.ts";

const WAIT_S = 60;
export const VAR_REFRESH_MS = 30_000;

export interface TemplateDataDeps {
  apiUrl(): string | undefined;
  agentToken(): string | undefined;
  log: { warn(msg: string, f?: Record<string, unknown>): void };
}

interface Entry {
  value?: DepValue;
  /** The first answer came (value is set, or the fetch failed: `error`). */
  error?: string;
  readers: Set<() => void>;
  stop(): void;
  first: Promise<void>;
}

const enc = (k: string) => k.split("/").map(encodeURIComponent).join("/");
const b64 = (v: unknown) => (typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : "");

/** The path to ask and how to read its answer (a 404 is "absent", not an error). */
function request(dep: TemplateDep): { path: string; read(status: number, body: unknown): DepValue } {
  switch (dep.kind) {
    case "kv":
      return {
        path: `/v1/kv/${enc(dep.key)}`,
        read: (s, body) => {
          const first = Array.isArray(body) ? (body[0] as { Value?: unknown } | undefined) : undefined;
          return s === 404 || !first ? { ok: false, absent: `Missing: kv.block(${dep.key})` } : { ok: true, value: b64(first.Value) };
        },
      };
    case "kvtree":
      return {
        path: `/v1/kv/${enc(dep.key)}?recurse`,
        read: (s, body) => ({
          ok: true,
          value: s === 404 || !Array.isArray(body) ? [] : (body as { Key: string; Value?: unknown }[])
            .filter((p) => !p.Key.endsWith("/"))
            .map((p): KvPair => ({ Key: p.Key.slice(dep.key.length), Value: b64(p.Value) })),
        }),
      };
    case "service":
      return {
        path: `/v1/health/service/${encodeURIComponent(dep.key)}?passing`,
        read: (_s, body) => ({
          ok: true,
          value: (Array.isArray(body) ? body : []).map((e: { Node?: { Node?: string; Address?: string }; Service?: { ID?: string; Service?: string; Address?: string; Port?: number; Tags?: string[] } }): ServiceEntry => ({
            Address: e.Service?.Address || e.Node?.Address || "", Port: e.Service?.Port ?? 0, ID: e.Service?.ID ?? "",
            Name: e.Service?.Service ?? dep.key, Node: e.Node?.Node ?? "", Tags: e.Service?.Tags ?? [],
          })),
        }),
      };
    case "var":
      return {
        path: `/v1/var/${enc(dep.key)}`,
        read: (s, body) => {
          if (s === 404) return { ok: false, absent: `Missing: var(${dep.key})` };
          if (s === 403) return { ok: false, absent: `var(${dep.key}): permission denied (a task's identity reads only its own job's variables, jobs/<job-id>/...)` };
          const items = (body as { Items?: unknown } | null)?.Items;
          return { ok: true, value: items && typeof items === "object" ? items : {} };
        },
      };
  }
}

export class TemplateData {
  private entries = new Map<string, Entry>();

  constructor(private d: TemplateDataDeps) {}

  /** The entry's key: variables are per token (each task reads with its own rights). */
  private keyOf(dep: TemplateDep, token: string | undefined): string {
    return dep.kind === "var" ? `${depId(dep)}@${createHash("sha256").update(token ?? "").digest("hex").slice(0, 16)}` : depId(dep);
  }

  /** The last value, or undefined before the first answer. */
  peek(dep: TemplateDep, token?: string): DepValue | undefined {
    return this.entries.get(this.keyOf(dep, token))?.value;
  }

  /** Why the last fetch failed (the leader unreachable, ...), if it did and no value came yet. */
  failure(dep: TemplateDep, token?: string): string | undefined {
    const e = this.entries.get(this.keyOf(dep, token));
    return e && e.value === undefined ? e.error : undefined;
  }

  /**
   * Starts (or joins) the watch of `dep`; `changed` runs on every new value.
   * Resolves once the first answer (or failure) came. Returns the release.
   */
  watch(dep: TemplateDep, token: string | undefined, changed: () => void): { first: Promise<void>; release(): void } {
    const key = this.keyOf(dep, token);
    let e = this.entries.get(key);
    if (!e) e = this.start(key, dep, token);
    e.readers.add(changed);
    const entry = e;
    return {
      first: e.first,
      release: () => {
        entry.readers.delete(changed);
        if (entry.readers.size === 0 && this.entries.get(key) === entry) {
          entry.stop();
          this.entries.delete(key);
        }
      },
    };
  }

  private start(key: string, dep: TemplateDep, token: string | undefined): Entry {
    const req = request(dep);
    let firstDone!: () => void;
    const entry: Entry = { readers: new Set(), stop: () => {}, first: new Promise((r) => (firstDone = r)) };
    this.entries.set(key, entry);
    const auth = dep.kind === "var" ? token : this.d.agentToken();
    const set = (v: DepValue) => {
      const same = entry.value !== undefined && JSON.stringify(entry.value) === JSON.stringify(v);
      entry.value = v;
      entry.error = undefined;
      firstDone();
      if (!same) for (const r of [...entry.readers]) r();
    };
    const loop = watchLoop(async (index, signal) => {
      const base = this.d.apiUrl();
      if (!base) throw new Error("the agent's API address is not known yet");
      const sep = req.path.includes("?") ? "&" : "?";
      const url = `${base}${req.path}${sep}index=${index}&wait=${WAIT_S}s`;
      const res = await fetch(url, {
        headers: auth ? { "X-Consul-Token": auth } : {},
        signal: AbortSignal.any([signal, AbortSignal.timeout((WAIT_S + WAIT_S / 16 + 10) * 1000)]),
      });
      const text = await res.text();
      if (signal.aborted) return index;
      if (!res.ok && res.status !== 404 && !(dep.kind === "var" && res.status === 403)) {
        throw new Error(`GET ${req.path} answered ${res.status}: ${text.slice(0, 200)}`);
      }
      set(req.read(res.status, text ? JSON.parse(text) : null));
      if (dep.kind === "var" && res.status === 403) {
        await abortableSleep(VAR_REFRESH_MS, signal); // a refusal does not block: ask again later, not in a loop
        return index;
      }
      const next = Number(res.headers.get(dep.kind === "var" ? "x-corral-index" : "x-consul-index") ?? 0);
      return next > 0 && next >= index ? next : 0;
    }, {
      error: (err) => {
        entry.error = (err as Error).message ?? String(err);
        firstDone();
        this.d.log.warn("templates: could not read", { what: depId(dep), err: entry.error });
      },
    });
    entry.stop = () => loop.stop();
    return entry;
  }
}

