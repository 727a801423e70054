// Passing an HTTP/2 answer on (node:http2 streams), shared by the proxy listener's h2 side
// (front.ts) and the mesh's destination side (mesh-server-h2.ts): an
// upstream stream's headers, body and trailers to the downstream stream as
// they come, a reset either way passed on; and corral's own answers, which
// are gRPC statuses when the client speaks gRPC (grpc.ts), JSON otherwise.
import http2 from "node:http2";
import type { Refusal } from "../invoker.ts";
import { encodeGrpcMessage, grpcStatusFor } from "./grpc.ts";

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or that describe one hop: never copied across. */
export const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"]);

/** An upstream stream at its response headers. */
export interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
}

/** A header block without pseudo-headers or connection-specific fields (http2 would refuse to send those). */
export function copyH2Headers(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined || CONNECTION_SPECIFIC.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** The upstream's answer to the client: headers, body and trailers as they come, a reset either way passed on. */
export function relayH2(down: http2.ServerHttp2Stream, r: H2Reply): void {
  const up = r.stream;
  if (down.closed || down.destroyed) return void up.close(http2.constants.NGHTTP2_CANCEL);
  const headers = copyH2Headers(r.headers);
  headers[":status"] = r.status;
  // A trailers-only answer (a gRPC error) ends with its headers.
  if (up.endAfterHeaders) {
    down.respond(headers, { endStream: true });
    return;
  }
  let trailers: http2.OutgoingHttpHeaders | undefined;
  up.once("trailers", (t) => (trailers = copyH2Headers(t)));
  down.respond(headers, { waitForTrailers: true });
  down.once("wantTrailers", () => (trailers ? down.sendTrailers(trailers) : down.close()));
  up.pipe(down);
  up.once("close", () => {
    // Reset upstream mid-answer: the client's stream is reset too, not ended as if complete.
    if (up.rstCode && up.rstCode !== http2.constants.NGHTTP2_NO_ERROR && !down.closed) down.close(up.rstCode);
  });
  down.once("close", () => {
    if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
  });
}

/** corral's own answer on an h2 stream: a trailers-only gRPC status for a gRPC client, JSON `{error, code}` otherwise. */
export function refuseH2(down: http2.ServerHttp2Stream, grpc: boolean, r: Refusal, extra: http2.OutgoingHttpHeaders = {}): void {
  if (down.closed || down.destroyed || down.headersSent) return;
  if (grpc) {
    down.respond({
      ...extra, ":status": 200, "content-type": "application/grpc",
      "grpc-status": String(grpcStatusFor(r.code, r.status)), "grpc-message": encodeGrpcMessage(r.message),
    }, { endStream: true });
    return;
  }
  if (r.status === 499) return void down.close(http2.constants.NGHTTP2_CANCEL);
  down.respond({ ...extra, ":status": r.status, "content-type": "application/json" });
  down.end(r.json());
}
