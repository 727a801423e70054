// The cluster's event stream (GET /v1/events, server-sent events) shared by
// every page: one EventSource per tab. Each event's id is the log index of
// the entry that caused it; the browser resends the last one as
// Last-Event-ID when it reconnects by itself, and when the stream is closed
// for good (an error answer, a token change) it is reopened with
// ?index=<last id>, so no event is lost or repeated across reconnects.
// EventSource cannot set headers, so the token rides as ?token=, which the
// server accepts on every route (core/acl/secret.ts requestToken).
import { api, enc, getToken, sleep } from "./api.ts";

/** The stream's topics (core/state/events.ts TOPICS; test/ui/unit.test.ts keeps them equal). */
export const TOPICS = ["node", "service", "check", "leader", "plugin", "job", "allocation", "kv"] as const;

export interface ClusterEvent {
  index?: number;
  topic: string;
  type: string;
  at: number;
  payload: Record<string, unknown>;
  /** Replayed from before the page loaded its data: shown in the feed, not acted on. */
  history?: boolean;
}

export type LiveStatus = "connecting" | "live" | "reconnecting" | "denied" | "paused";
type Handler = (e: ClusterEvent) => void;

const FEED_SIZE = 50;
const PAUSE_AFTER_MS = 30_000;
/** Entries replayed when the page opens, so the feed is not empty. */
const HISTORY = 30;

export class Live {
  private es?: EventSource;
  private handlers = new Map<string, Set<Handler>>();
  private statusHandlers = new Set<(s: LiveStatus, detail: string) => void>();
  private lastId = 0;
  private liveFrom = 0;
  private generation = 0;
  private failures = 0;
  status: LiveStatus = "connecting";
  detail = "";
  readonly feed: ClusterEvent[] = [];

  /** Opens the stream at `index` (the applied index the page's data was read at), replaying a little history. */
  start(index: number): void {
    this.liveFrom = index;
    this.lastId = Math.max(0, index - HISTORY);
    this.open();
    // A tab hidden for a while lets go of its stream (connections per host are few) and
    // resumes from its last id when shown again: nothing is missed.
    let timer: ReturnType<typeof setTimeout> | undefined;
    document.addEventListener("visibilitychange", () => {
      clearTimeout(timer);
      if (document.visibilityState === "hidden") {
        timer = setTimeout(() => this.pause(), PAUSE_AFTER_MS);
      } else if (this.status === "paused") this.open();
    });
  }

  private pause(): void {
    if (this.status === "denied") return;
    this.generation++;
    this.es?.close();
    this.es = undefined;
    this.setStatus("paused", "The tab was hidden: updates resume when it is shown again.");
  }

  /** The token changed: reopen with it, where we were. */
  restart(): void {
    this.open();
  }

  /** topic, or "*" for every event; "reset" when the server says to re-read everything. */
  on(topic: string, fn: Handler): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  onStatus(fn: (s: LiveStatus, detail: string) => void): () => void {
    this.statusHandlers.add(fn);
    return () => this.statusHandlers.delete(fn);
  }

  private setStatus(s: LiveStatus, detail = ""): void {
    this.status = s;
    this.detail = detail;
    for (const fn of this.statusHandlers) fn(s, detail);
  }

  private open(): void {
    const gen = ++this.generation;
    this.es?.close();
    const token = getToken();
    const url = `/v1/events?index=${this.lastId}${token ? `&token=${enc(token)}` : ""}`;
    const es = new EventSource(url);
    this.es = es;
    this.setStatus(this.status === "live" ? "reconnecting" : "connecting");
    es.onopen = () => {
      if (gen !== this.generation) return;
      this.failures = 0;
      this.setStatus("live");
    };
    es.onerror = () => {
      if (gen !== this.generation) return;
      if (es.readyState === EventSource.CONNECTING) return this.setStatus("reconnecting");
      // Closed for good: the server answered with an error status (403, 429) or not at all.
      void this.recover(gen);
    };
    for (const topic of [...TOPICS, "reset"]) es.addEventListener(topic, (m) => gen === this.generation && this.receive(m as MessageEvent));
  }

  /** Finds out why the stream closed; reopens after a pause unless the token may not read events. */
  private async recover(gen: number): Promise<void> {
    this.setStatus("reconnecting");
    // 2 s, doubling to 30 s while the stream keeps failing (a node down, 429 too many streams).
    this.failures++;
    let wait = Math.min(30_000, 2000 * 2 ** (this.failures - 1));
    try {
      const a = await api<{ can: Record<string, boolean> }>("/v1/ui/session?can=event:read");
      if (!a.data.can["event:read"]) {
        this.setStatus("denied", "Your token may not read the event stream (event:read), so the page does not update by itself.");
        return;
      }
    } catch {
      wait = Math.max(wait, 5000); // the node is down or restarting
    }
    await sleep(wait);
    if (gen === this.generation) this.open();
  }

  private receive(m: MessageEvent): void {
    let e: ClusterEvent;
    try {
      e = JSON.parse(m.data) as ClusterEvent;
    } catch {
      return;
    }
    const id = Number(m.lastEventId || 0);
    if (e.index !== undefined && id > this.lastId) this.lastId = id;
    // Events up to the index the page read its data at are already in that data.
    if (e.index !== undefined && e.index <= this.liveFrom) e.history = true;
    this.feed.unshift(e);
    if (this.feed.length > FEED_SIZE) this.feed.length = FEED_SIZE;
    for (const key of e.history ? ["*"] : ["*", e.topic]) for (const fn of this.handlers.get(key) ?? []) fn(e);
  }
}

/** One line saying what an event means. */
export function describe(e: ClusterEvent): string {
  const p = e.payload ?? {};
  const str = (k: string) => (p[k] === undefined || p[k] === null || p[k] === "" ? "" : String(p[k]));
  const subject = str("key") || str("name") || str("checkId") || str("serviceId") || str("jobId") || str("allocId") || str("leader") || str("id");
  const change = str("status") || str("state") || str("health") || str("clientStatus") || str("operation");
  return [subject, change && `→ ${change}`, str("reason") && `(${str("reason")})`].filter(Boolean).join(" ");
}
