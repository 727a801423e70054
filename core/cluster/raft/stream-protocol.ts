// The wire format of the Raft peer stream (pure: no I/O). A stream is one
// WebSocket from a node to a peer, opened by
//
//   GET /v1/raft/stream   Upgrade: websocket   X-Corral-Signature: <v2, GET, this path, empty body>
//
// The handshake is signed with the cluster secret like any peer RPC
// (core/http/rpc-signature.ts): time window, nonce remembered by the
// receiver (a replayed handshake is refused, 401 SIGNATURE_REPLAYED), the
// receiving authority, and the sending node. Once accepted, the connection
// is the authentication: the frames on it are not signed one by one, as a
// TLS session's records are not (without [tls] a peer connection can be
// read and, by someone on the path, hijacked, as a signed request's body
// can be read; docs/security.md "Signed RPC").
//
// Frames, text, JSON:
//   sender → receiver: an array of Raft messages (one transport.send() to that peer)
//   receiver → sender: {"ack": n}, n = frames received and stepped so far (cumulative)
// The sender keeps at most a window of unacknowledged frames and bytes in
// flight (stream-transport.ts): the acks are the flow control, and a stream
// whose oldest frame goes unacknowledged too long is declared lost, whole.
// Direction matters: each node streams its own messages to each peer, and
// the answers come back on the peer's stream to it, as with per-message requests.
import type { Message } from "../../raft/index.ts";
import { isPlainBatch, MessageBatch } from "../../api/raft-batch.ts";

export const RAFT_STREAM_PATH = "/v1/raft/stream";
/** More messages than this in one frame is not a batch a node sends. */
export const MAX_MESSAGES_PER_FRAME = 100_000;
/** WebSocket close code of a frame that is not a batch of Raft messages (RFC 6455: policy violation). */
export const CLOSE_BAD_FRAME = 1008;
/**
 * The receiver acknowledges every ACK_EVERY_FRAMES frames, or ACK_DELAY_MS
 * after the first unacknowledged one: acks are flow control and liveness,
 * not durability (Raft's own answers say what is persisted), so one per
 * frame would only cost both ends CPU. The sender's window (1024 frames) and
 * loss timeout (seconds) are far above both.
 */
export const ACK_EVERY_FRAMES = 64;
export const ACK_DELAY_MS = 20;

export type FrameResult = { ok: true; messages: Message[] } | { ok: false; error: string };

export function encodeBatch(messages: Message[]): string {
  return JSON.stringify(messages);
}

/** A frame from a peer: an array of Raft messages, or why not. */
export function decodeBatch(frame: string | Uint8Array): FrameResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof frame === "string" ? frame : new TextDecoder().decode(frame));
  } catch {
    return { ok: false, error: "frame is not JSON" };
  }
  // The same checks and limits as a per-message request's body (core/api/raft-batch.ts), so the stream
  // cannot take what POST /v1/raft/message refuses: the cheap test first, the route's schema otherwise.
  if (!Array.isArray(parsed) || parsed.length > MAX_MESSAGES_PER_FRAME) return { ok: false, error: "frame: expected an array of Raft messages" };
  const batch = { from: "", messages: parsed };
  if (isPlainBatch(batch)) return { ok: true, messages: batch.messages };
  const checked = MessageBatch.safeParse(batch);
  if (!checked.success) return { ok: false, error: "frame: expected an array of Raft messages" };
  return { ok: true, messages: checked.data.messages as unknown as Message[] };
}

export function encodeAck(frames: number): string {
  return `{"ack":${frames}}`;
}

/** The receiver's cumulative ack, or undefined for anything else. */
export function decodeAck(frame: string | Uint8Array): number | undefined {
  try {
    const v = JSON.parse(typeof frame === "string" ? frame : new TextDecoder().decode(frame)) as { ack?: unknown };
    return Number.isSafeInteger(v?.ack) && (v.ack as number) >= 0 ? (v.ack as number) : undefined;
  } catch {
    return undefined;
  }
}
