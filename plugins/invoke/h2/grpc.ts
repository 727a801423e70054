// gRPC's view of a call corral answers itself: when the client speaks gRPC
// (content-type application/grpc…), a proxy error must be a gRPC status in a
// trailers-only answer (HTTP 200, grpc-status, grpc-message), which gRPC
// clients turn into a status code; a JSON body would only give them
// "INTERNAL: received unexpected content-type". Pure: no I/O.

/** The gRPC status codes corral answers with (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * By corral's error code first (it says why), else by HTTP status as gRPC's
 * http-grpc-status-mapping.md does. No "circuit open" refusal exists: the
 * breaker never ejects more than max_ejection_percent of the instances
 * (docs/invoke.md), so a call always has one to try; the limits corral does
 * refuse on (watched services, body size) are RESOURCE_EXHAUSTED.
 */
const BY_CODE: Record<string, number> = {
  NO_HEALTHY_INSTANCE: GrpcStatus.UNAVAILABLE,
  UPSTREAM_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  UPSTREAM_NOT_H2: GrpcStatus.UNAVAILABLE,
  CATALOG_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  UPSTREAM_TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  INTENTION_DENIED: GrpcStatus.PERMISSION_DENIED,
  TOO_MANY_SERVICES: GrpcStatus.RESOURCE_EXHAUSTED,
  BODY_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  UNKNOWN_SERVICE: GrpcStatus.UNIMPLEMENTED,
  NO_SERVICE_IN_HOST: GrpcStatus.UNIMPLEMENTED,
  CLIENT_CLOSED: GrpcStatus.CANCELLED,
};

export function grpcStatusFor(code: string, httpStatus: number): number {
  const byCode = BY_CODE[code];
  if (byCode !== undefined) return byCode;
  switch (httpStatus) {
    case 400: return GrpcStatus.INTERNAL;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GrpcStatus.UNAVAILABLE;
    default: return GrpcStatus.UNKNOWN;
  }
}

export function isGrpc(contentType: string | undefined): boolean {
  return typeof contentType === "string" && contentType.startsWith("application/grpc");
}

/** grpc-message is percent-encoded: anything outside printable ASCII, and "%" itself (PROTOCOL-HTTP2.md). */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * The deadline a gRPC client sends ("grpc-timeout: 250m" = 250 ms; at most 8
 * digits and a unit H M S m u n), in ms rounded up (a 100 µs deadline must not
 * become "no deadline"); undefined when absent or malformed.
 */
export function grpcTimeoutMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const ms = Math.ceil(Number(m[1]) * UNIT_MS[m[2]!]!);
  return ms > 0 ? Math.min(ms, 3_600_000) : 1;
}
