// The audit log's write side. Every write request (not GET/HEAD, save a
// WebSocket handshake, which opens a session; peer RPC
// only when refused) is recorded — accessor, method, path, route, status, remote address,
// time — by the node that received it from the client (a request another
// node signed and passed on is that node's to record).
//
// Records are batched: one AuditAppend command carries every record of the
// last `audit_flush_interval` (or 500, whichever comes first), proposed off
// the request path. A write therefore never waits for its audit record, and
// the log gains one entry per interval, not one per write. The price: a node
// that dies loses the records of its last interval. The queue is bounded;
// when the leaders cannot be reached for long, the oldest records are
// dropped and counted (GET /v1/audit shows the count).
import type { Context, MiddlewareHandler } from "hono";
import { answeredRoutePath } from "../http/answered-route.ts";
import type { Logger } from "../log.ts";
import type { Command } from "../state/commands.ts";
import { MAX_AUDIT_BATCH, type AuditRecord } from "../state/domains/audit.ts";
import { remoteAddress } from "../http/remote-addr.ts";
import { pathOf } from "../http/path-of.ts";
import { requestIdentity } from "./enforce.ts";
import { isNodeSigned } from "./node-signature.ts";
import { isWebSocketUpgrade } from "../http/websocket-upgrade.ts";

export const AUDIT_BATCH = 500;
export const MAX_AUDIT_QUEUE = 20_000;

export interface AuditBatcherOptions {
  propose: (cmd: Command) => Promise<unknown>;
  flushMs: () => number;
  retention: () => { maxRecords: number; maxAgeMs: number };
  log: Logger;
  now?: () => number;
}

export class AuditBatcher {
  private queue: AuditRecord[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  private flushing?: Promise<void>;
  private closed = false;
  dropped = 0;
  written = 0;

  constructor(private opts: AuditBatcherOptions) {}

  add(r: AuditRecord): void {
    if (this.closed) return;
    this.queue.push(r);
    if (this.queue.length > MAX_AUDIT_QUEUE) {
      this.dropped += this.queue.length - MAX_AUDIT_QUEUE;
      this.queue.splice(0, this.queue.length - MAX_AUDIT_QUEUE);
    }
    if (this.queue.length >= AUDIT_BATCH) this.schedule(0);
    else this.schedule(this.opts.flushMs());
  }

  /** Proposes what is queued; resolves when written (or failed, then requeued). */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.closed) this.schedule(this.opts.flushMs());
    });
    return this.flushing;
  }

  /** Writes what is left, then stops. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
    this.closed = true;
  }

  pending(): number {
    return this.queue.length;
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private async flushOnce(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_AUDIT_BATCH);
      const { maxRecords, maxAgeMs } = this.opts.retention();
      try {
        await this.opts.propose({ type: "AuditAppend", v: 1, at: (this.opts.now ?? Date.now)(), records: batch, maxRecords, maxAgeMs });
        this.written += batch.length;
      } catch (err) {
        this.queue.unshift(...batch);
        this.opts.log.warn("audit records not written yet; will retry", { pending: this.queue.length, err: (err as Error)?.message });
        return;
      }
    }
  }
}

/** "PUT /v1/kv/{key}": the pattern of the route that answered (core/http/answered-route.ts), never the raw path. */
export function routeOf(c: Context): string {
  const path = answeredRoutePath(c);
  return path === undefined ? `${c.req.method} (no route)` : `${c.req.method} ${path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}")}`;
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The record of a write refused before the route table saw it (the browser
 * guard's 400/403/421 in core/node.ts, in front of the fast paths too): no
 * route matched yet and no token was resolved, so neither is named. Without
 * it a page's cross-site attempts left no trace in the audit log.
 */
export function earlyRefusalRecord(req: Request, o: { nodeName: string; remote: string; status: number; now?: number }): AuditRecord | undefined {
  if (READS.has(req.method) && !isWebSocketUpgrade(req)) return undefined;
  const path = pathOf(req.url);
  return {
    at: o.now ?? Date.now(), node: o.nodeName, accessor: "",
    method: req.method.slice(0, 16), path: path.slice(0, 2048),
    route: `${req.method.slice(0, 16)} (refused before routing)`, status: o.status, remote: o.remote.slice(0, 128),
  };
}

/**
 * Mounted outermost (after the request metrics), so every refusal of a later
 * middleware is seen with its status: a bad node signature (401), a body over
 * the limit (413), a rate limit (429), an ACL (403). Peer RPC (/v1/cluster/*,
 * /v1/raft/*) is recorded only when it was refused for its signature or size:
 * accepted peer traffic is the cluster's own (heartbeats, Raft) and would
 * drown the log.
 */
export function auditMiddleware(opts: { enabled: () => boolean; batcher: AuditBatcher; nodeName: string }): MiddlewareHandler {
  return async function auditLogMiddleware(c, next) {
    // A WebSocket handshake is recorded as a write: it opens a session (an `alloc exec` shell).
    if (READS.has(c.req.method) && !isWebSocketUpgrade(c.req.raw)) return next();
    await next();
    // A request another node signed was recorded by that node; a peer RPC with a valid signature is the cluster's own.
    if (!opts.enabled() || isNodeSigned(c)) return;
    opts.batcher.add({
      at: Date.now(),
      node: opts.nodeName,
      accessor: requestIdentity(c)?.accessorId ?? "",
      method: c.req.method.slice(0, 16),
      path: c.req.path.slice(0, 2048),
      route: routeOf(c).slice(0, 512),
      status: c.res.status,
      remote: remoteAddress(c).slice(0, 128),
    });
  };
}
