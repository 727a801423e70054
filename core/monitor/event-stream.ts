// One client's event stream: replays history from the log, then follows
// applied entries live, without a gap or a duplicate at the seam.
//
// The order of operations is what makes the seam exact:
//  1. the hub registers the stream for applied entries *before* anything is
//     read, and entries arriving during the replay are buffered;
//  2. the replay reads committed entries (cursor, appliedIndex] from the log
//     table, page by page, yielding to the event loop between pages;
//  3. the page that finds nothing left switches to live and flushes the
//     buffer, skipping every entry at or below the cursor.
// `cursor` is the last log index handled (its events were sent or filtered
// out), so an entry is delivered at most once and never skipped. With the
// synchronous SQLite source step 3 happens in the same turn as the last
// read, so the buffer only ever holds entries the replay already covered;
// it is what keeps the seam exact for a source whose reads yield.
//
// Gaps that cannot be replayed become an `event: reset` (re-read the state,
// then continue from the index it carries): a resume point older than the
// snapshot (compacted), or a follower that installed a snapshot mid-stream.
import type { Logger } from "../log.ts";
import { eventsOf, matchesTopics, type ClusterEvent, type Topic } from "../state/events.ts";
import type { LogSource } from "./log-source.ts";
import { sseComment, sseFrame, sseRetry } from "./sse.ts";

export interface StreamLimits {
  /** Log entries read per replay step. */
  replayPageSize: number;
  /** Frames a client may leave unread before its stream is closed (it resumes with Last-Event-ID). */
  maxQueuedFrames: number;
  /** Applied entries held while replaying; past that the buffer is dropped (the log still has them). */
  maxBufferedEntries: number;
  /** What a reconnecting EventSource waits. */
  retryMs: number;
}

export interface StreamRequest {
  /** Resume after this log index; undefined: start at the current index. */
  after?: number;
  /** null: every topic. */
  topics: ReadonlySet<Topic> | null;
  /** Whether the caller may see an event (its token's rules, core/acl/event-rules.ts); absent: every event. */
  visible?: (event: ClusterEvent) => boolean;
}

/** An applied entry and the events it produced (computed once per entry by the hub). */
export interface LiveEntry {
  index: number;
  events: ClusterEvent[];
}

const encoder = new TextEncoder();

export class EventStream {
  private cursor = 0;
  private buffer: LiveEntry[] | null = null;
  private closed = false;
  private roomWaiter?: () => void;

  constructor(
    private source: LogSource,
    private limits: StreamLimits,
    private ctl: ReadableStreamDefaultController<Uint8Array>,
    private req: StreamRequest,
    private log: Logger,
    private onClose: () => void,
  ) {}

  /** Call once the hub delivers applied entries to this stream. */
  start(): void {
    this.send(sseRetry(this.limits.retryMs));
    if (this.req.after === undefined) {
      this.cursor = this.source.appliedIndex();
      this.send(sseComment(`streaming from index ${this.cursor}`));
      return;
    }
    this.cursor = this.req.after;
    this.buffer = [];
    this.send(sseComment(`resuming after index ${this.cursor}`));
    void this.replay().catch((err) => {
      this.log.warn("event stream replay failed", { err });
      this.close("replay failed; reconnect with Last-Event-ID");
    });
  }

  /** An entry the FSM just applied. */
  live(entry: LiveEntry): void {
    if (this.closed) return;
    if (this.buffer !== null) {
      // Dropping is safe: every applied entry is in the log, and the replay reads up to the applied index.
      if (this.buffer.length < this.limits.maxBufferedEntries) this.buffer.push(entry);
      else this.buffer = [];
      return;
    }
    if (entry.index <= this.cursor) return;
    if (entry.index > this.cursor + 1) {
      // Entries were skipped over: this node installed a snapshot from the leader.
      this.reset(entry.index - 1, "this node installed a snapshot; re-read the state");
    }
    this.deliver(entry.index, entry.events);
  }

  /** A node-local event (plugin state): not in the log, so it carries no id and is not resumable. */
  local(event: ClusterEvent): void {
    if (this.closed || !this.wants(event)) return;
    this.send(sseFrame({ event: event.topic, data: event }));
  }

  /** The caller's topics, and what its token may read. */
  private wants(e: ClusterEvent): boolean {
    return matchesTopics(e, this.req.topics) && (!this.req.visible || this.req.visible(e));
  }

  comment(text: string): void {
    if (!this.closed) this.send(sseComment(text));
  }

  /** The reader wants more (ReadableStream pull): a waiting replay may go on. */
  pulled(): void {
    const w = this.roomWaiter;
    this.roomWaiter = undefined;
    w?.();
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (reason) this.ctl.enqueue(encoder.encode(sseComment(`closing: ${reason}`)));
      this.ctl.close();
    } catch {
      // already closed or cancelled by the client
    }
    this.pulled();
    this.onClose();
  }

  isClosed(): boolean {
    return this.closed;
  }

  private async replay(): Promise<void> {
    while (this.buffer !== null && !this.closed) {
      await this.room();
      if (this.closed) return;
      this.replayStep();
      // Let applies and other requests run between pages.
      if (this.buffer !== null) await new Promise((r) => setTimeout(r, 0));
    }
  }

  /** One page of history, or the switch to live once caught up. Synchronous on purpose (see the top). */
  private replayStep(): void {
    const upTo = this.source.appliedIndex();
    if (this.cursor < this.source.compactedIndex()) {
      this.reset(upTo, `entries after index ${this.cursor} were compacted into a snapshot; re-read the state`);
      return this.goLive();
    }
    const rows = this.source.entries(this.cursor, upTo, this.limits.replayPageSize);
    if (rows.length === 0 && this.cursor < upTo) {
      this.reset(upTo, `entries after index ${this.cursor} are no longer in the log; re-read the state`);
      return this.goLive();
    }
    for (const r of rows) {
      if (r.index !== this.cursor + 1) {
        this.reset(upTo, `entries after index ${this.cursor} were compacted into a snapshot; re-read the state`);
        return this.goLive();
      }
      this.deliver(r.index, r.command ? eventsOf(r.index, r.command) : []);
    }
    if (this.cursor >= upTo) this.goLive();
  }

  private goLive(): void {
    const held = this.buffer ?? [];
    this.buffer = null;
    for (const e of held) this.live(e);
  }

  private deliver(index: number, events: ClusterEvent[]): void {
    this.cursor = index;
    let frames = "";
    for (const e of events) if (this.wants(e)) frames += sseFrame({ id: index, event: e.topic, data: e });
    // One chunk per entry: an entry's events travel together, so a resume point never splits an entry.
    if (frames) this.send(frames);
  }

  private reset(index: number, reason: string): void {
    this.cursor = index;
    const data: ClusterEvent = { index, topic: "reset", type: "StreamReset", at: Date.now(), payload: { reason } };
    this.send(sseFrame({ id: index, event: "reset", data }));
  }

  private send(text: string): void {
    if (this.closed) return;
    if ((this.ctl.desiredSize ?? 0) < -this.limits.maxQueuedFrames) {
      this.close("the client is not reading; reconnect with Last-Event-ID");
      return;
    }
    try {
      this.ctl.enqueue(encoder.encode(text));
    } catch {
      this.close();
    }
  }

  /** Waits until the client has read enough that the queue is below its high-water mark. */
  private async room(): Promise<void> {
    while (!this.closed && (this.ctl.desiredSize ?? 1) <= 0) {
      await new Promise<void>((r) => {
        this.roomWaiter = r;
        setTimeout(r, 250);
      });
    }
  }
}
