// The gRPC health probe: one call of grpc.health.v1.Health/Check, Consul's
// GRPC check (`"GRPC": "127.0.0.1:9000/my.svc"`, `GRPCUseTLS`). Published
// through core/sdk like the http and tcp probes, so the health plugin and
// exec's stopgap runner answer the same.
//
// Written on node:http2 directly, not @grpc/grpc-js: a unary call is one
// POST with a 5-byte length-prefixed protobuf message each way, and the
// binary must bundle small. What goes on the wire:
//   request   :method POST, :path /grpc.health.v1.Health/Check,
//             content-type application/grpc, te trailers,
//             body = 0x00 (not compressed) + uint32 BE length + HealthCheckRequest
//             HealthCheckRequest { string service = 1; }
//   response  HealthCheckResponse { ServingStatus status = 1; }
//             UNKNOWN = 0, SERVING = 1, NOT_SERVING = 2, SERVICE_UNKNOWN = 3
//             grpc-status (trailers, or headers of a "trailers-only" answer)
// SERVING is passing; every other status, a non-zero grpc-status (with its
// grpc-message), a non-gRPC answer, a connection error or the timeout is
// critical. Output follows Consul: "gRPC check <target>: success".
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { formatDuration } from "../config/duration.ts";
import type { CheckStatus } from "../state/domains/catalog.ts";
import { clip, type ProbeResult } from "./probes.ts";
import { concatBytes } from "../http/read-capped.ts";

export interface GrpcProbeSpec {
  kind: "grpc";
  host: string;
  port: number;
  /** The service asked about; "" asks for the server's overall health (gRPC's convention). */
  service: string;
  /** GRPCUseTLS: h2 over TLS (ALPN) instead of cleartext h2c. */
  tls: boolean;
  tlsSkipVerify: boolean;
}

/** grpc.health.v1 ServingStatus names, by number. */
export const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;

/** gRPC status code names (the ones a health call sees, for readable output). */
const GRPC_CODES: Record<number, string> = {
  1: "Canceled", 2: "Unknown", 3: "InvalidArgument", 4: "DeadlineExceeded", 5: "NotFound", 7: "PermissionDenied",
  8: "ResourceExhausted", 12: "Unimplemented", 13: "Internal", 14: "Unavailable", 16: "Unauthenticated",
};

/** A response message larger than this is not a HealthCheckResponse (it is one varint field). */
const MAX_RESPONSE_BYTES = 4096;

/**
 * Consul's GRPC field: "host:port" or "host:port/service" ("[v6]:port/service").
 * Undefined when it is not one of them. Pure.
 */
export function parseGrpcTarget(target: string): { host: string; port: number; service: string } | undefined {
  const m = /^(\[[^\]]+\]|[^:/[\]]+):(\d+)(?:\/(.*))?$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port, service: m[3] ?? "" };
}

/** The gRPC message frame of HealthCheckRequest{service}. Pure. */
export function healthCheckRequest(service: string): Uint8Array {
  const name = new TextEncoder().encode(service);
  const len = varint(name.length);
  const msg = service ? new Uint8Array([0x0a, ...len, ...name]) : new Uint8Array(0);
  const frame = new Uint8Array(5 + msg.length);
  new DataView(frame.buffer).setUint32(1, msg.length);
  frame.set(msg, 5);
  return frame;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/**
 * The ServingStatus in a response body (frame header included), or a reason
 * it cannot be read. Unknown fields are skipped as protobuf requires. Pure.
 */
export function readHealthCheckResponse(body: Uint8Array): { status: number } | { error: string } {
  if (body.length < 5) return { error: body.length === 0 ? "no response message" : "truncated gRPC frame" };
  if (body[0] !== 0) return { error: "compressed response (none was offered)" };
  const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  if (body.length < 5 + len) return { error: "truncated gRPC frame" };
  const msg = body.subarray(5, 5 + len);
  let status = 0; // proto3 default: a SERVING_STATUS of 0 is not sent
  for (let i = 0; i < msg.length; ) {
    const key = readVarint(msg, i);
    if (!key) return { error: "malformed HealthCheckResponse" };
    i = key.next;
    const field = key.value >>> 3;
    const wire = key.value & 7;
    if (wire === 0) {
      const v = readVarint(msg, i);
      if (!v) return { error: "malformed HealthCheckResponse" };
      if (field === 1) status = v.value;
      i = v.next;
    } else if (wire === 2) {
      const l = readVarint(msg, i);
      if (!l || l.next + l.value > msg.length) return { error: "malformed HealthCheckResponse" };
      i = l.next + l.value;
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
      if (i > msg.length) return { error: "malformed HealthCheckResponse" };
    } else {
      return { error: "malformed HealthCheckResponse" };
    }
  }
  return { status };
}

function readVarint(b: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0, i = at; i < b.length && shift < 35; shift += 7, i++) {
    value += (b[i]! & 0x7f) * 2 ** shift;
    if ((b[i]! & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/** The target as Consul writes it in Output. */
export function grpcTargetText(p: GrpcProbeSpec): string {
  const where = p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
  return p.service ? `${where}/${p.service}` : where;
}

/** The verdict of a finished call: HTTP status, gRPC status and the message. Pure. */
export function grpcVerdict(target: string, httpStatus: number | undefined, headers: IncomingHttpHeaders, trailers: IncomingHttpHeaders, body: Uint8Array): ProbeResult {
  const fail = (why: string): ProbeResult => ({ status: "critical", output: clip(`gRPC check ${target}: ${why}`) });
  const type = String(headers["content-type"] ?? "");
  if (httpStatus !== 200 || !type.startsWith("application/grpc")) {
    return fail(`not a gRPC answer (HTTP ${httpStatus ?? "?"}${type ? `, content-type ${type.slice(0, 80)}` : ""})`);
  }
  const code = trailers["grpc-status"] ?? headers["grpc-status"];
  if (code === undefined) return fail("no grpc-status in the answer");
  if (String(code) !== "0") {
    const n = Number(code);
    const raw = String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "");
    let message = raw;
    try {
      message = decodeURIComponent(raw);
    } catch {} // grpc-message is percent-encoded; keep it raw when it is not
    return fail(`rpc error: code = ${GRPC_CODES[n] ?? `Code(${code})`} desc = ${message.slice(0, 300)}`);
  }
  const r = readHealthCheckResponse(body);
  if ("error" in r) return fail(r.error);
  const name = SERVING_STATUS[r.status] ?? `Status(${r.status})`;
  const status: CheckStatus = r.status === 1 ? "passing" : "critical";
  return status === "passing"
    ? { status, output: `gRPC check ${target}: success` }
    : { status, output: clip(`gRPC ${target} serving status: ${name}`) };
}

/**
 * One Check call on a fresh connection, closed when the probe ends (a check
 * runs every few seconds; holding an HTTP/2 session per check is not worth it).
 */
export function grpcProbe(p: GrpcProbeSpec, timeoutMs: number): Promise<ProbeResult> {
  const target = grpcTargetText(p);
  const authority = p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
  return new Promise((resolve) => {
    let session: ClientHttp2Session | undefined;
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      resolve(r);
    };
    const fail = (why: string) => done({ status: "critical", output: clip(`gRPC check ${target}: ${why}`) });
    const timer = setTimeout(() => fail(`timed out after ${formatDuration(timeoutMs)}`), timeoutMs);
    try {
      session = connect(`${p.tls ? "https" : "http"}://${authority}`, p.tls ? { rejectUnauthorized: !p.tlsSkipVerify, servername: isIp(p.host) ? undefined : p.host } : {});
      session.on("error", (e: Error) => fail(connectionError(e)));
      const req = session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: "/grpc.health.v1.Health/Check",
        [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
        te: "trailers",
        "grpc-timeout": `${Math.max(1, Math.ceil(timeoutMs))}m`,
        "user-agent": "Consul Health Check",
      });
      let status: number | undefined;
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Uint8Array[] = [];
      let size = 0;
      req.on("response", (h) => {
        headers = h;
        status = Number(h[":status"]);
      });
      req.on("trailers", (t) => void (trailers = t));
      req.on("data", (c: Uint8Array) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES + 5) return fail("response message too large for a HealthCheckResponse");
        chunks.push(c);
      });
      req.on("end", () => done(grpcVerdict(target, status, headers, trailers, concatBytes(chunks, size))));
      req.on("error", (e: Error) => fail(connectionError(e)));
      req.end(healthCheckRequest(p.service));
    } catch (e) {
      fail(connectionError(e as Error));
    }
  });
}

/** A connection error in words; a protocol error most likely means the port does not speak HTTP/2 (not gRPC). */
function connectionError(e: Error): string {
  const msg = (e?.message ?? String(e)).slice(0, 300);
  const code = (e as { code?: string })?.code ?? "";
  if (/PROTOCOL|SESSION|STREAM|GOAWAY|ERR_HTTP2/i.test(code) || /protocol error/i.test(msg)) return `not a gRPC (HTTP/2) server: ${msg}`;
  return msg;
}

function isIp(host: string): boolean {
  return host.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(host);
}
