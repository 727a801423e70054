// WebSocket upgrades of ordinary routes (a plugin's `alloc exec` session),
// next to the Raft peer streams that core/cluster/raft/stream-server.ts
// upgrades before the route table. Bun.serve takes one set of WebSocket
// handlers for the whole server: each socket upgraded here carries its own
// handlers in ws.data, and `dispatchingWebSocket` sends every event to them
// (any other socket goes to the fallback, the Raft streams' handlers).
//
// A route upgrades from its handler, after every middleware has run (browser
// guard, node signature, ACL, audit): the upgrade is the route's answer.
// Browsers apply no CORS to WebSockets, so an upgrade counts as a write for
// the browser guard and the audit log (isWebSocketUpgrade), whatever its
// method (GET).
import type { Context } from "hono";
import { ApiError } from "./errors.ts";

/** A WebSocket handshake request (Upgrade: websocket), of any method. */
export function isWebSocketUpgrade(req: Request): boolean {
  return (req.headers.get("upgrade") ?? "").toLowerCase().split(",").some((t) => t.trim() === "websocket");
}

/** The slice of Bun's ServerWebSocket a session uses. */
export interface SessionSocket {
  send(data: string | Uint8Array): number;
  close(code?: number, reason?: string): void;
  /** Bytes queued, not yet written to the socket (backpressure). */
  getBufferedAmount?(): number;
}

/** A route's session: called with its socket for each event. */
export interface WebSocketSession {
  open(ws: SessionSocket): void;
  message(ws: SessionSocket, data: string | Uint8Array): void;
  close(ws: SessionSocket, code: number, reason: string): void;
  /** What was queued for the client has been written (backpressure eased). */
  drain?(ws: SessionSocket): void;
}

/** What a socket upgraded by a route keeps in ws.data. */
interface RoutedData {
  routedSession: WebSocketSession;
}

interface AnySocket extends SessionSocket {
  data: unknown;
}

function routedOf(ws: AnySocket): WebSocketSession | undefined {
  const d = ws.data as Partial<RoutedData> | undefined;
  return d && typeof d === "object" && d.routedSession ? d.routedSession : undefined;
}

/** The handlers of another kind of socket (the Raft streams'). */
export interface FallbackHandlers {
  maxPayloadLength?: number;
  open?(ws: never): void;
  message?(ws: never, data: never): void;
  close?(ws: never, code?: number, reason?: string): void;
  drain?(ws: never): void;
}

/** Largest frame Bun reads at all when no fallback says more; sessions set their own, lower, limit. */
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/** Bun.serve's `websocket` handlers: routed sockets to their session, any other to `fallback`. */
export function dispatchingWebSocket(fallback?: FallbackHandlers): Record<string, unknown> {
  const f = fallback as { open?(ws: AnySocket): void; message?(ws: AnySocket, d: string | Uint8Array): void; close?(ws: AnySocket, code?: number, reason?: string): void; drain?(ws: AnySocket): void } | undefined;
  return {
    maxPayloadLength: fallback?.maxPayloadLength ?? DEFAULT_MAX_PAYLOAD,
    open(ws: AnySocket) {
      const s = routedOf(ws);
      if (s) s.open(ws);
      else f?.open?.(ws);
    },
    message(ws: AnySocket, data: string | Uint8Array) {
      const s = routedOf(ws);
      if (s) s.message(ws, data);
      else f?.message?.(ws, data);
    },
    close(ws: AnySocket, code: number, reason: string) {
      const s = routedOf(ws);
      if (s) s.close(ws, code, reason);
      else f?.close?.(ws, code, reason);
    },
    drain(ws: AnySocket) {
      const s = routedOf(ws);
      if (s) s.drain?.(ws);
      else f?.drain?.(ws);
    },
  };
}

/**
 * Upgrades the route's request to a WebSocket served by `session`; the
 * Response to return from the handler (Bun ignores it once upgraded). A
 * request that is not a handshake, or a runtime without WebSockets, gets a
 * clear 400/501 (thrown) and nothing starts.
 */
export function upgradeWebSocket(c: Context, session: WebSocketSession): Response {
  if (!isWebSocketUpgrade(c.req.raw)) throw new ApiError(400, "UPGRADE_REQUIRED", `${c.req.path} is a WebSocket: send a handshake (Upgrade: websocket)`);
  const server = c.env as { upgrade?: (req: Request, o: { data: RoutedData }) => boolean } | undefined;
  if (typeof server?.upgrade !== "function") throw new ApiError(501, "WEBSOCKET_UNSUPPORTED", "this node's runtime serves no WebSockets (Bun does)");
  if (!server.upgrade(c.req.raw, { data: { routedSession: session } })) throw new ApiError(400, "UPGRADE_FAILED", "not a valid WebSocket handshake");
  return new Response(null, { status: 101 });
}
