// A real gRPC server (@grpc/grpc-js, a dev dependency: tests only) serving
// grpc.health.v1.Health/Check, whose answer the test flips. The proto is the
// upstream one (grpc/grpc-proto health.proto), written to a temp file for
// proto-loader. Run as a script it is a job's task: it listens on
// CORRAL_PORT_GRPC and answers SERVING for every service.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HEALTH_PROTO = `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

export type ServingStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN";

export interface GrpcHealthTarget {
  port: number;
  /** Status answered for `service` (default for services never set: SERVICE_UNKNOWN → NOT_FOUND, as grpc-go's health server). */
  set(service: string, status: ServingStatus): void;
  /** Check calls received, by service name. */
  calls(service: string): number;
  stop(): void;
}

function healthService() {
  const dir = mkdtempSync(join(tmpdir(), "corral-grpc-proto-"));
  writeFileSync(join(dir, "health.proto"), HEALTH_PROTO);
  const def = protoLoader.loadSync(join(dir, "health.proto"), { enums: String });
  return (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health.service as grpc.ServiceDefinition;
}

export async function grpcHealthTarget(opts: { port?: number; host?: string; credentials?: grpc.ServerCredentials; everyService?: ServingStatus } = {}): Promise<GrpcHealthTarget> {
  const statuses = new Map<string, ServingStatus>();
  const counts = new Map<string, number>();
  const server = new grpc.Server();
  server.addService(healthService(), {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const svc = call.request.service;
      counts.set(svc, (counts.get(svc) ?? 0) + 1);
      const status = statuses.get(svc) ?? opts.everyService;
      if (!status) return cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${svc}` });
      cb(null, { status });
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(`${opts.host ?? "127.0.0.1"}:${opts.port ?? 0}`, opts.credentials ?? grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    port,
    set: (service, status) => void statuses.set(service, status),
    calls: (service) => counts.get(service) ?? 0,
    stop: () => server.forceShutdown(),
  };
}

if (import.meta.main) {
  await grpcHealthTarget({ port: Number(process.env.CORRAL_PORT_GRPC), everyService: "SERVING" });
}
