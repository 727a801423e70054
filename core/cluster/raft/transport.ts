// Raft messages over HTTP: POST /v1/raft/message on the peer's own API port,
// signed with the cluster secret. One request in flight per peer, carrying
// every message queued for it meanwhile: messages to a peer stay in order,
// many appends travel in one request (batching), and a slow peer never
// holds up the others. A failed request drops its messages: Raft resends
// what matters (heartbeats, appends on the next probe).
import { signRequest, SIGNATURE_HEADER, type NodeKey } from "../../http/rpc-signature.ts";
import { explainSignatureRefusal } from "../../http/signature-refusal.ts";
import { authorityOf } from "../../http/rpc-receiver.ts";
import type { Logger } from "../../log.ts";
import type { Message } from "../../raft/index.ts";

export const RAFT_MESSAGE_PATH = "/v1/raft/message";

export interface RaftTransport {
  send(messages: Message[]): void;
  close(): void;
}

interface PeerQueue {
  queue: Message[];
  inFlight: boolean;
  /** ms epoch before which we don't retry a peer that just failed. */
  backoffUntil: number;
  failures: number;
}

export interface HttpRaftTransportOptions {
  self: string;
  /** The cluster secret and this node's id (signatures name the sender). */
  key: NodeKey;
  log: Logger;
  /** How long one request may take before it is abandoned. */
  timeoutMs: number;
  /** "http" or "https". */
  scheme?: string;
  /** The peer fetch (TLS trust, core/http/tls.ts); global fetch when absent. */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** Upper bound on queued messages per peer; older ones are dropped first. */
  maxQueued?: number;
}

export class HttpRaftTransport implements RaftTransport {
  private peers = new Map<string, PeerQueue>();
  private closed = false;
  private readonly maxQueued: number;

  constructor(private opts: HttpRaftTransportOptions) {
    this.maxQueued = opts.maxQueued ?? 4096;
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    const touched = new Set<string>();
    for (const m of messages) {
      let p = this.peers.get(m.to);
      if (!p) this.peers.set(m.to, (p = { queue: [], inFlight: false, backoffUntil: 0, failures: 0 }));
      p.queue.push(m);
      if (p.queue.length > this.maxQueued) p.queue.splice(0, p.queue.length - this.maxQueued);
      touched.add(m.to);
    }
    for (const to of touched) this.pump(to);
  }

  close(): void {
    this.closed = true;
    this.peers.clear();
  }

  private pump(to: string): void {
    const p = this.peers.get(to);
    if (!p || p.inFlight || p.queue.length === 0 || this.closed) return;
    const wait = p.backoffUntil - Date.now();
    if (wait > 0) {
      p.inFlight = true; // hold the slot until the backoff ends
      setTimeout(() => {
        p.inFlight = false;
        this.pump(to);
      }, wait);
      return;
    }
    const batch = p.queue;
    p.queue = [];
    p.inFlight = true;
    void this.post(to, batch).then((ok) => {
      p.inFlight = false;
      if (ok) {
        p.failures = 0;
      } else {
        p.failures++;
        // Heartbeats come every tick: backing off (capped) keeps a dead peer
        // from costing a connection attempt per tick.
        p.backoffUntil = Date.now() + Math.min(1000, 25 * 2 ** Math.min(p.failures, 6));
      }
      this.pump(to);
    });
  }

  private async post(to: string, messages: Message[]): Promise<boolean> {
    const body = JSON.stringify({ from: this.opts.self, messages });
    try {
      const url = `${this.opts.scheme ?? "http"}://${to}${RAFT_MESSAGE_PATH}`;
      const res = await (this.opts.fetch ?? fetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest(this.opts.key, "POST", RAFT_MESSAGE_PATH, body, { to: authorityOf(url) }) },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.text();
      if (res.status === 401) {
        // The peer says why: the clock skew, a different cluster.secret, or a signature format it does not accept (a rolling upgrade).
        let why: { code?: string; error?: string } = {};
        try {
          why = JSON.parse(text);
        } catch {
          // not JSON: keep the status
        }
        this.opts.log.error(explainSignatureRefusal(why.code, this.opts.key.legacy, "raft peer"), { peer: to, code: why.code, reason: why.error });
      }
      return res.ok;
    } catch {
      return false;
    }
  }
}
