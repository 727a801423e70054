// The gRPC probe's pure parts: Consul's GRPC target, the request frame, and
// reading a HealthCheckResponse (unknown fields skipped, defaults, bad frames).
import { describe, expect, test } from "bun:test";
import { grpcVerdict, healthCheckRequest, parseGrpcTarget, readHealthCheckResponse } from "../../core/checks/grpc-probe.ts";

const frame = (msg: number[], flag = 0) => new Uint8Array([flag, 0, 0, 0, msg.length, ...msg]);

describe("grpc probe", () => {
  test("targets: host:port, host:port/service, [v6]:port/service; anything else refused", () => {
    expect(parseGrpcTarget("127.0.0.1:9000/my.svc")).toEqual({ host: "127.0.0.1", port: 9000, service: "my.svc" });
    expect(parseGrpcTarget("db.local:50051")).toEqual({ host: "db.local", port: 50051, service: "" });
    expect(parseGrpcTarget("[::1]:9000/a/b")).toEqual({ host: "::1", port: 9000, service: "a/b" });
    for (const bad of ["", "host", "host:0", "host:70000", ":9000", "http://h:1/x", "::1:9000"]) expect(parseGrpcTarget(bad), bad).toBeUndefined();
  });

  test("the request frame: flag 0, big-endian length, field 1 as a string; empty service = empty message", () => {
    expect([...healthCheckRequest("ab")]).toEqual([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]);
    expect([...healthCheckRequest("")]).toEqual([0, 0, 0, 0, 0]);
    expect(healthCheckRequest("x".repeat(200)).subarray(5, 8)).toEqual(new Uint8Array([0x0a, 0xc8, 0x01]));
  });

  test("responses: status field, proto3 default UNKNOWN, unknown fields skipped, bad frames named", () => {
    expect(readHealthCheckResponse(frame([0x08, 1]))).toEqual({ status: 1 });
    expect(readHealthCheckResponse(frame([]))).toEqual({ status: 0 });
    expect(readHealthCheckResponse(frame([0x12, 2, 0x61, 0x62, 0x08, 2]))).toEqual({ status: 2 }); // field 2 (bytes) skipped
    expect(readHealthCheckResponse(frame([0x08, 1], 1))).toEqual({ error: "compressed response (none was offered)" });
    expect(readHealthCheckResponse(new Uint8Array([0, 0, 0, 0, 9, 0x08]))).toEqual({ error: "truncated gRPC frame" });
    expect(readHealthCheckResponse(frame([0x08]))).toEqual({ error: "malformed HealthCheckResponse" });
  });

  test("verdicts: SERVING passing; other statuses, grpc-status and non-gRPC answers critical", () => {
    const ok = { "content-type": "application/grpc" };
    expect(grpcVerdict("t", 200, ok, { "grpc-status": "0" }, frame([0x08, 1]))).toEqual({ status: "passing", output: "gRPC check t: success" });
    expect(grpcVerdict("t", 200, ok, { "grpc-status": "0" }, frame([0x08, 3]))).toEqual({ status: "critical", output: "gRPC t serving status: SERVICE_UNKNOWN" });
    expect(grpcVerdict("t", 200, { ...ok, "grpc-status": "12", "grpc-message": "no%20health" }, {}, new Uint8Array())).toEqual({ status: "critical", output: "gRPC check t: rpc error: code = Unimplemented desc = no health" });
    expect(grpcVerdict("t", 404, { "content-type": "text/html" }, {}, new Uint8Array()).output).toBe("gRPC check t: not a gRPC answer (HTTP 404, content-type text/html)");
    expect(grpcVerdict("t", 200, ok, {}, frame([0x08, 1])).output).toBe("gRPC check t: no grpc-status in the answer");
  });
});
