// The event stream's fan-out on one leader-role node: one FSM subscription,
// events computed once per applied entry and handed to every open stream;
// node-local events (plugin state) published live; a keepalive comment for
// all streams on one timer; a bound on open streams; and every stream closed
// when the node shuts down (so server.stop() is not held up by them).
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import { eventsOf, type ClusterEvent } from "../state/events.ts";
import type { LogSource } from "./log-source.ts";
import { EventStream, type StreamLimits, type StreamRequest } from "./event-stream.ts";

export interface EventHubOptions {
  source: LogSource;
  log: Logger;
  /** Streams open at once (http.max_event_streams); one more is refused with 429. */
  maxStreams: number;
  /** Comment sent to every stream this often, so proxies and clients see the connection alive. */
  keepaliveMs?: number;
  limits?: Partial<StreamLimits>;
}

export const DEFAULT_KEEPALIVE_MS = 15_000;

const DEFAULT_LIMITS: StreamLimits = {
  replayPageSize: 512,
  maxQueuedFrames: 10_000,
  maxBufferedEntries: 10_000,
  retryMs: 1000,
};

/** Chunks a stream may queue before the replay waits for the client (ReadableStream high-water mark). */
const QUEUE_HIGH_WATER = 64;

export class EventHub {
  private streams = new Set<EventStream>();
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly keepalive: ReturnType<typeof setInterval>;
  private readonly limits: StreamLimits;

  constructor(private opts: EventHubOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.unsubscribe = opts.source.onApplied((entry) => {
      if (this.streams.size === 0) return;
      const live = { index: entry.index, events: eventsOf(entry.index, entry.command) };
      for (const s of this.streams) s.live(live);
    });
    this.keepalive = setInterval(() => {
      for (const s of this.streams) s.comment("keepalive");
    }, opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS);
    (this.keepalive as { unref?: () => void }).unref?.();
  }

  /** Opens a stream (the body of a text/event-stream response). Throws ApiError 429/503 when it cannot. */
  open(req: StreamRequest, signal?: AbortSignal): ReadableStream<Uint8Array> {
    if (this.closed) throw new ApiError(503, "SHUTTING_DOWN", "node is shutting down");
    if (this.streams.size >= this.opts.maxStreams) {
      throw new ApiError(429, "TOO_MANY_STREAMS", `${this.opts.maxStreams} event streams are open on this node (http.max_event_streams); retry later`);
    }
    let stream: EventStream | undefined;
    const body = new ReadableStream<Uint8Array>(
      {
        // start() runs inside the constructor: the stream is registered for
        // applied entries before it reads anything (see event-stream.ts).
        start: (ctl) => {
          const s = new EventStream(this.opts.source, this.limits, ctl, req, this.opts.log, () => this.streams.delete(s));
          stream = s;
          this.streams.add(s);
          s.start();
        },
        pull: () => stream?.pulled(),
        cancel: () => stream?.close(),
      },
      new CountQueuingStrategy({ highWaterMark: QUEUE_HIGH_WATER }),
    );
    signal?.addEventListener("abort", () => stream?.close(), { once: true });
    return body;
  }

  /** A node-local event (not in the log): delivered live to matching streams, without an id. */
  publishLocal(event: ClusterEvent): void {
    for (const s of this.streams) s.local(event);
  }

  /** Open streams (metrics, tests). */
  size(): number {
    return this.streams.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    this.unsubscribe();
    for (const s of [...this.streams]) s.close("node shutting down");
  }
}
