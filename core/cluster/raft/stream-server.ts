// The receiving end of Raft peer streams (stream-protocol.ts): the signed
// handshake, before the route table like the per-message fast path, and the
// WebSocket handlers that step each frame's messages into Raft and
// acknowledge them. Under Bun only (Bun.serve's WebSocket upgrade); on other
// runtimes, or with raft.stream = false, the path falls through to the route
// table (404) and peers keep to per-message requests.
import { SIGNATURE_HEADER, type RpcVerifier } from "../../http/middleware/cluster-auth.ts";
import { pathAndQueryOf, pathOf } from "../../http/path-of.ts";
import type { Logger } from "../../log.ts";
import type { Message } from "../../raft/index.ts";
import { ACK_DELAY_MS, ACK_EVERY_FRAMES, CLOSE_BAD_FRAME, decodeBatch, encodeAck, RAFT_STREAM_PATH } from "./stream-protocol.ts";

export interface RaftStreamServerDeps {
  verifier: RpcVerifier;
  /** Largest frame accepted (raft.max_message_bytes, as for one per-message request). */
  maxMessageBytes: number;
  step(messages: Message[]): void;
  log: Logger;
  /** A refused handshake, for the audit log (as the route table audits a refused signature). */
  auditRefusal?: (req: Request, env: unknown, status: number) => void;
  /** Frames received on streams, for corral_raft_stream_frames_total. */
  onFrame?: () => void;
}

/** What Bun keeps with each accepted stream (ws.data). */
export interface RaftStreamSocketData {
  raftStream: true;
  /** The node the handshake's signature names. */
  peer: string;
  frames: number;
  /** Frames acknowledged so far, and the pending delayed ack. */
  acked: number;
  ackTimer?: ReturnType<typeof setTimeout>;
}

/** The slice of Bun's ServerWebSocket used here. */
interface StreamSocket {
  data: RaftStreamSocketData;
  send(data: string): number;
  close(code?: number, reason?: string): void;
}

/** The part of Bun's server the handshake needs (hono's env under Bun). */
interface UpgradingServer {
  upgrade(req: Request, opts: { data: RaftStreamSocketData }): boolean;
}

/** Acknowledge every frame received so far (cumulative). */
function ack(ws: StreamSocket): void {
  clearTimeout(ws.data.ackTimer);
  ws.data.ackTimer = undefined;
  ws.data.acked = ws.data.frames;
  try {
    ws.send(encodeAck(ws.data.frames));
  } catch {
    // closed meanwhile: the sender declares the stream lost
  }
}

const error = (status: number, code: string, message: string) => Response.json({ error: message, code }, { status });

export interface RaftStreamServer {
  /** The handshake: a Response (101 done, or a JSON refusal) for GET /v1/raft/stream, undefined for any other request. */
  handshake(req: Request, env?: unknown): Response | undefined;
  /** Bun.serve's `websocket` handlers. */
  websocket: {
    maxPayloadLength: number;
    open(ws: StreamSocket): void;
    message(ws: StreamSocket, frame: string | Uint8Array): void;
    close(ws: StreamSocket): void;
  };
  /** Streams open now. */
  count(): number;
}

export function raftStreamServer(d: RaftStreamServerDeps): RaftStreamServer {
  const sockets = new Set<StreamSocket>();
  return {
    handshake(req, env) {
      if (pathOf(req.url) !== RAFT_STREAM_PATH) return undefined;
      const server = env as Partial<UpgradingServer> | undefined;
      if (typeof server?.upgrade !== "function") return undefined; // not Bun: the route table answers 404
      if (req.method !== "GET") return error(405, "METHOD_NOT_ALLOWED", `${RAFT_STREAM_PATH} takes GET (a WebSocket upgrade)`);
      // The nonce is spent here, by the whole (bodiless) request: the same
      // handshake again is SIGNATURE_REPLAYED for as long as it is fresh.
      const v = d.verifier.verify(req.headers.get(SIGNATURE_HEADER), "GET", pathAndQueryOf(req.url), req.headers.get("host"), new Uint8Array(0));
      if (!v.ok) {
        d.auditRefusal?.(req, env, v.status);
        return error(v.status, v.code, v.message);
      }
      // v1 (the previous release's format) has no nonce, so no replay rule: no stream on it.
      if (v.header.version !== 2) return error(401, "SIGNATURE_LEGACY", "a Raft stream needs a v2 (nonce-carrying) signature; send per-message requests");
      if ((req.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
        return error(426, "UPGRADE_REQUIRED", `${RAFT_STREAM_PATH} is a WebSocket: send Upgrade: websocket`);
      }
      const data: RaftStreamSocketData = { raftStream: true, peer: v.header.node, frames: 0, acked: 0 };
      if (!server.upgrade!(req, { data })) return error(400, "UPGRADE_FAILED", "not a valid WebSocket upgrade request");
      // Bun ignores a response once the upgrade is done; the status says what happened.
      return new Response(null, { status: 101 });
    },
    websocket: {
      maxPayloadLength: d.maxMessageBytes,
      open(ws) {
        sockets.add(ws);
      },
      message(ws, frame) {
        const batch = decodeBatch(frame);
        if (!batch.ok) {
          d.log.warn("raft stream: closing a peer's stream on a malformed frame", { peer: ws.data.peer, reason: batch.error });
          ws.close(CLOSE_BAD_FRAME, batch.error);
          return;
        }
        ws.data.frames++;
        d.onFrame?.();
        d.step(batch.messages);
        if (ws.data.frames - ws.data.acked >= ACK_EVERY_FRAMES) ack(ws);
        else if (!ws.data.ackTimer) ws.data.ackTimer = setTimeout(() => ack(ws), ACK_DELAY_MS);
      },
      close(ws) {
        clearTimeout(ws.data.ackTimer);
        sockets.delete(ws);
      },
    },
    count: () => sockets.size,
  };
}
