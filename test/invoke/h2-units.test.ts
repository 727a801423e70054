// The pure parts of h2c/gRPC on the proxy listener: telling the h2 preface
// from HTTP/1.1, corral's errors as gRPC statuses, grpc-message encoding and
// grpc-timeout parsing.
import { describe, expect, test } from "bun:test";
import { encodeGrpcMessage, GrpcStatus, grpcStatusFor, grpcTimeoutMs, isGrpc } from "../../plugins/invoke/h2/grpc.ts";
import { isH2Preface } from "../../plugins/invoke/h2/preface.ts";

const b = (s: string) => Buffer.from(s, "latin1");

describe("isH2Preface", () => {
  test("the preface, whole or cut short, with frames after it", () => {
    expect(isH2Preface(b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04"))).toBe(true);
    expect(isH2Preface(b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))).toBe(true);
    expect(isH2Preface(b("PRI * HT"))).toBe(true);
  });
  test("HTTP/1.x requests, and chunks too short to tell", () => {
    for (const s of ["POST / HTTP/1.1\r\n", "PUT / HTTP/1.1\r\n", "PATCH / HTTP/1.1\r\n", "PRI / HTTP/1.1\r\n", "GET / HTTP/1.1\r\n", "PRI", "P", "", "PRI * HTTP/1.1\r\n"]) {
      expect(isH2Preface(b(s)), s).toBe(false);
    }
  });
});

describe("grpcStatusFor", () => {
  test("corral's codes", () => {
    expect(grpcStatusFor("NO_HEALTHY_INSTANCE", 503)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusFor("UPSTREAM_UNAVAILABLE", 502)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusFor("UPSTREAM_TIMEOUT", 504)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(grpcStatusFor("INTENTION_DENIED", 403)).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(grpcStatusFor("TOO_MANY_SERVICES", 503)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(grpcStatusFor("BODY_TOO_LARGE", 413)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(grpcStatusFor("UNKNOWN_SERVICE", 404)).toBe(GrpcStatus.UNIMPLEMENTED);
  });
  test("anything else by its HTTP status (gRPC's mapping)", () => {
    expect(grpcStatusFor("X", 401)).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(grpcStatusFor("X", 429)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusFor("X", 418)).toBe(GrpcStatus.UNKNOWN);
  });
});

test("isGrpc", () => {
  expect(isGrpc("application/grpc")).toBe(true);
  expect(isGrpc("application/grpc+proto")).toBe(true);
  expect(isGrpc("application/json")).toBe(false);
  expect(isGrpc(undefined)).toBe(false);
});

test("encodeGrpcMessage percent-encodes non-printable ASCII, UTF-8 and %", () => {
  expect(encodeGrpcMessage('service "web" 100% down')).toBe('service "web" 100%25 down');
  expect(encodeGrpcMessage("é\n")).toBe("%C3%A9%0A");
});

test("grpcTimeoutMs", () => {
  expect(grpcTimeoutMs("250m")).toBe(250);
  expect(grpcTimeoutMs("2S")).toBe(2000);
  expect(grpcTimeoutMs("1M")).toBe(60_000);
  expect(grpcTimeoutMs("100u")).toBe(1); // rounded up, never "no deadline"
  expect(grpcTimeoutMs("5n")).toBe(1);
  expect(grpcTimeoutMs("99999999H")).toBe(3_600_000);
  for (const bad of [undefined, "", "10", "m", "1.5S", "123456789m", "-1m", "10x"]) expect(grpcTimeoutMs(bad), String(bad)).toBeUndefined();
});

test("a call the instance cannot speak (HTTP/2 to HTTP/1.1) may go elsewhere like a refused one, whatever the method", async () => {
  const { retryable } = await import("../../plugins/invoke/retry.ts");
  const rules = { methods: new Set(["GET"]) };
  expect(retryable("protocol", "POST", true, rules)).toBe(true);
  expect(retryable("protocol", "POST", false, rules)).toBe(false); // a body already streamed cannot be sent again
});
