// The Echo service definition for the gRPC tests, bench and backend.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";

export function loadEcho(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(join(import.meta.dir, "echo.proto"), { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { corral: { test: { Echo: grpc.ServiceClientConstructor } } };
  return pkg.corral.test.Echo;
}
