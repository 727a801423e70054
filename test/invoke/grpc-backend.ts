// A real gRPC server (@grpc/grpc-js, h2c) for the proxy tests and the gRPC
// bench: `bun grpc-backend.ts <id> [port]` prints "READY <port>". Every reply
// carries the instance id, so a test can see which instance answered.
// Unary "notfound" answers NOT_FOUND with a message and trailing metadata;
// "slow:<ms>" waits first; a server stream of "die" exits the process midway.
import * as grpc from "@grpc/grpc-js";
import { loadEcho } from "./grpc-proto.ts";

const [id = "grpc", portArg = "0"] = process.argv.slice(2);
const Echo = loadEcho();

type Req = { message: string; count: number };
const reply = (call: grpc.ServerUnaryCall<Req, unknown> | grpc.ServerWritableStream<Req, unknown> | grpc.ServerReadableStream<Req, unknown> | grpc.ServerDuplexStream<Req, unknown>, message: string) => ({
  id, message,
  authority: String(call.metadata.get("x-forwarded-host")[0] ?? ""),
  token: String(call.metadata.get("x-consul-token")[0] ?? ""),
  peer: String(call.metadata.get("x-forwarded-client-cert")[0] ?? ""),
});

const server = new grpc.Server();
server.addService(Echo.service, {
  Unary(call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>) {
    const m = call.request.message;
    if (m === "notfound") {
      const md = new grpc.Metadata();
      md.set("x-detail", "no such thing");
      return cb({ code: grpc.status.NOT_FOUND, details: `nothing named ${m} on ${id}`, metadata: md });
    }
    const slow = /^slow:(\d+)$/.exec(m);
    if (slow) return void setTimeout(() => cb(null, reply(call, m)), Number(slow[1]));
    cb(null, reply(call, m));
  },
  ServerStream(call: grpc.ServerWritableStream<Req, unknown>) {
    if (call.request.message === "die") {
      // Two messages, then the process is gone mid-stream (no trailers): the client must see a failure, not an end.
      call.write(reply(call, "die#0"));
      call.write(reply(call, "die#1"));
      return void setTimeout(() => process.exit(1), 100);
    }
    for (let i = 0; i < call.request.count; i++) call.write(reply(call, `${call.request.message}#${i}`));
    call.end();
  },
  ClientStream(call: grpc.ServerReadableStream<Req, unknown>, cb: grpc.sendUnaryData<unknown>) {
    const got: string[] = [];
    call.on("data", (r: Req) => got.push(r.message));
    call.on("end", () => cb(null, reply(call, got.join(","))));
  },
  Bidi(call: grpc.ServerDuplexStream<Req, unknown>) {
    call.on("data", (r: Req) => call.write(reply(call, `echo:${r.message}`)));
    call.on("end", () => call.end());
  },
});
server.bindAsync(`127.0.0.1:${portArg}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`READY ${port}`);
});
