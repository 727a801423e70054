// Raft messages to peers over long-lived streams (stream-protocol.ts), with
// per-message requests (transport.ts) as the fallback. Per peer:
//
//   down ──connect (signed handshake)──▶ connecting ──101──▶ open
//     ▲                                      │                 │
//     └──── refused, closed, or no ack ◀─────┴─────────────────┘
//
// While the stream is open, each send() to that peer is one frame, written at
// once (a leader's appends go out before its own fsync, driver.ts), so a
// Ready's messages travel as one batch and frames are pipelined: the next goes
// out without waiting for the last one's answer. Flow control: at most
// maxInflightFrames frames and maxInflightBytes bytes unacknowledged per peer;
// past that, messages wait in a bounded outbox (oldest dropped first: Raft
// resends what matters) and go out as acks come back. A stream whose oldest
// frame goes unacknowledged for timeoutMs is declared lost, whole (what was in
// flight on it is gone, as the simulator models it, test/sim/network.ts), and
// closed.
//
// While a peer's stream is not open (connecting, refused by a peer of an older
// release or with raft.stream = false, broken), its messages go by the
// fallback, and a new handshake is tried after a backoff: short after a
// stream that worked broke, growing to 30 s while handshakes are refused.
import { signRequest, type NodeKey } from "../../http/rpc-signature.ts";
import { authorityOf } from "../../http/rpc-receiver.ts";
import type { Logger } from "../../log.ts";
import type { Message } from "../../raft/index.ts";
import type { RaftTransport } from "./transport.ts";
import { decodeAck, encodeBatch, RAFT_STREAM_PATH } from "./stream-protocol.ts";

export interface StreamingRaftTransportOptions {
  key: NodeKey;
  log: Logger;
  /** Per-message requests: while a stream is down or refused. */
  fallback: RaftTransport;
  /** No ack for this long (or no answer to the handshake): the stream is lost. */
  timeoutMs: number;
  /** Largest frame this node sends on a stream (its raft.max_message_bytes); a bigger batch goes by the fallback. */
  maxFrameBytes: number;
  maxInflightFrames?: number;
  maxInflightBytes?: number;
  /** Messages waiting for the window per peer; older ones are dropped first. */
  maxQueued?: number;
  /** Opens a WebSocket (tests); Bun's WebSocket with the handshake headers by default. */
  connect?: (url: string, headers: Record<string, string>) => WebSocket;
}

interface InFlight {
  frame: number;
  bytes: number;
  sentAt: number;
}

interface PeerStream {
  to: string;
  state: "down" | "connecting" | "open";
  ws?: WebSocket;
  since: number;
  retryAt: number;
  /** Handshakes refused or streams lost in a row (backoff). */
  failures: number;
  outbox: Message[];
  inflight: InFlight[];
  inflightBytes: number;
  sent: number;
}

/** Counters for /metrics and tests. */
export interface StreamStats {
  framesSent: number;
  messagesSent: number;
  messagesViaFallback: number;
  streamsOpened: number;
  streamsLost: number;
  /** Messages dropped from a full outbox (backpressure). */
  dropped: number;
}

export class StreamingRaftTransport implements RaftTransport {
  private peers = new Map<string, PeerStream>();
  private closed = false;
  private watchdog: ReturnType<typeof setInterval>;
  private readonly maxFrames: number;
  private readonly maxBytes: number;
  private readonly maxQueued: number;
  readonly stats: StreamStats = { framesSent: 0, messagesSent: 0, messagesViaFallback: 0, streamsOpened: 0, streamsLost: 0, dropped: 0 };

  constructor(private readonly opts: StreamingRaftTransportOptions) {
    this.maxFrames = opts.maxInflightFrames ?? 1024;
    this.maxBytes = opts.maxInflightBytes ?? 16 * 1024 * 1024;
    this.maxQueued = opts.maxQueued ?? 4096;
    this.watchdog = setInterval(() => this.checkTimeouts(), Math.max(25, Math.floor(opts.timeoutMs / 4)));
    (this.watchdog as { unref?: () => void }).unref?.();
  }

  send(messages: Message[]): void {
    if (this.closed || messages.length === 0) return;
    // Most sends go to one peer (a follower's answer) or are one per peer (a leader's appends).
    const byPeer = new Map<string, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    const fallback: Message[] = [];
    for (const [to, batch] of byPeer) {
      const p = this.peer(to);
      if (p.state === "open") this.enqueue(p, batch);
      else {
        fallback.push(...batch);
        if (p.state === "down" && Date.now() >= p.retryAt) this.connect(p);
      }
    }
    if (fallback.length > 0) this.viaFallback(fallback);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
    for (const p of this.peers.values()) this.closeSocket(p);
    this.peers.clear();
    this.opts.fallback.close();
  }

  /** Peers whose stream is open now. */
  openStreams(): string[] {
    return [...this.peers.values()].filter((p) => p.state === "open").map((p) => p.to);
  }

  private peer(to: string): PeerStream {
    let p = this.peers.get(to);
    if (!p) {
      p = { to, state: "down", since: Date.now(), retryAt: 0, failures: 0, outbox: [], inflight: [], inflightBytes: 0, sent: 0 };
      this.peers.set(to, p);
    }
    return p;
  }

  private viaFallback(messages: Message[]): void {
    this.stats.messagesViaFallback += messages.length;
    this.opts.fallback.send(messages);
  }

  private enqueue(p: PeerStream, batch: Message[]): void {
    if (p.outbox.length === 0 && this.hasWindow(p)) return this.write(p, batch);
    p.outbox.push(...batch);
    if (p.outbox.length > this.maxQueued) {
      const over = p.outbox.length - this.maxQueued;
      p.outbox.splice(0, over);
      this.stats.dropped += over;
    }
    this.pump(p);
  }

  private hasWindow(p: PeerStream): boolean {
    return p.inflight.length < this.maxFrames && p.inflightBytes < this.maxBytes;
  }

  /** Writes what waits in the outbox, one frame, while the window allows. */
  private pump(p: PeerStream): void {
    if (p.state !== "open" || p.outbox.length === 0 || !this.hasWindow(p)) return;
    const batch = p.outbox;
    p.outbox = [];
    this.write(p, batch);
  }

  private write(p: PeerStream, batch: Message[]): void {
    const frame = encodeBatch(batch);
    // A frame the peer would refuse (an InstallSnapshot past the size bound)
    // goes as a request, which says why; on the stream it would close it, and
    // Raft's resend would close the next one. The bound is in UTF-8 bytes
    // (at most 3 per UTF-16 unit): counted only when it could matter.
    const bytes = frame.length * 3 <= this.opts.maxFrameBytes ? frame.length : Buffer.byteLength(frame);
    if (bytes > this.opts.maxFrameBytes) return this.viaFallback(batch);
    try {
      p.ws!.send(frame);
    } catch (err) {
      this.lost(p, `send failed: ${(err as Error).message}`);
      this.viaFallback(batch);
      return;
    }
    p.sent++;
    p.inflight.push({ frame: p.sent, bytes, sentAt: Date.now() });
    p.inflightBytes += bytes;
    this.stats.framesSent++;
    this.stats.messagesSent += batch.length;
  }

  private connect(p: PeerStream): void {
    p.state = "connecting";
    p.since = Date.now();
    const url = `ws://${p.to}${RAFT_STREAM_PATH}`;
    let ws: WebSocket;
    try {
      const headers = { "X-Corral-Signature": signRequest(this.opts.key, "GET", RAFT_STREAM_PATH, "", { to: authorityOf(url) }) };
      ws = this.opts.connect ? this.opts.connect(url, headers) : new WebSocket(url, { headers } as unknown as string[]);
    } catch (err) {
      this.refused(p, (err as Error).message);
      return;
    }
    p.ws = ws;
    ws.onopen = () => {
      if (p.ws !== ws || this.closed) return;
      p.state = "open";
      p.since = Date.now();
      p.failures = 0;
      this.stats.streamsOpened++;
      this.opts.log.debug("raft stream open", { peer: p.to });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (p.ws !== ws) return;
      const n = decodeAck(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
      if (n === undefined || n > p.sent) return this.lost(p, "malformed ack");
      while (p.inflight.length > 0 && p.inflight[0]!.frame <= n) p.inflightBytes -= p.inflight.shift()!.bytes;
      this.pump(p);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (p.ws !== ws) return;
      if (p.state === "open") this.lost(p, `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`);
      else this.refused(p, `handshake failed (${ev.code})`);
    };
    // An error is followed by close; close decides.
    ws.onerror = () => {};
  }

  /** A stream that worked is gone: everything in flight on it with it. Retry soon. */
  private lost(p: PeerStream, why: string): void {
    if (p.state !== "open") return;
    this.stats.streamsLost++;
    this.opts.log.debug("raft stream lost; per-message requests until a new one is up", { peer: p.to, why });
    const waiting = p.outbox;
    this.reset(p, Date.now() + Math.min(1000, 50 * 2 ** p.failures++));
    if (waiting.length > 0) this.viaFallback(waiting);
  }

  /**
   * A handshake refused or unanswered: a peer of an older release (404), one
   * with raft.stream = false, a signature it refuses (401, which the
   * per-message requests will then log, with its reason), or a peer that is down.
   */
  private refused(p: PeerStream, why: string): void {
    this.opts.log.debug("raft stream refused; per-message requests", { peer: p.to, why });
    this.reset(p, Date.now() + Math.min(30_000, 250 * 2 ** Math.min(p.failures++, 7)));
  }

  private reset(p: PeerStream, retryAt: number): void {
    this.closeSocket(p);
    p.state = "down";
    p.since = Date.now();
    p.retryAt = retryAt;
    p.outbox = [];
    p.inflight = [];
    p.inflightBytes = 0;
    p.sent = 0;
  }

  private closeSocket(p: PeerStream): void {
    const ws = p.ws;
    p.ws = undefined;
    try {
      ws?.close();
    } catch {
      // already closed
    }
  }

  private checkTimeouts(): void {
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.state === "connecting" && now - p.since > this.opts.timeoutMs) this.refused(p, "no answer to the handshake");
      else if (p.state === "open" && p.inflight.length > 0 && now - p.inflight[0]!.sentAt > this.opts.timeoutMs) this.lost(p, "no ack");
    }
  }
}
