// gRPC test helpers: real gRPC server processes (grpc-backend.ts) and a
// grpc-js client aimed at corral's proxy listener (or straight at an
// instance), with promise wrappers for the four call shapes.
import * as grpc from "@grpc/grpc-js";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { BUN, ROOT } from "../helpers/proc.ts";
import { loadEcho } from "./grpc-proto.ts";

export interface GrpcBackend {
  id: string;
  port: number;
  child: ChildProcess;
  kill(): Promise<void>;
}

const live = new Set<GrpcBackend>();

export async function startGrpcBackend(id: string): Promise<GrpcBackend> {
  const child = spawn(BUN, [join(ROOT, "test/invoke/grpc-backend.ts"), id], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on("data", (d) => (out += d));
    child.once("exit", (code) => reject(new Error(`grpc backend ${id} exited (${code}): ${out}`)));
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const b: GrpcBackend = {
    id, port, child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      live.delete(b);
    },
  };
  live.add(b);
  return b;
}

export async function killGrpcBackends(): Promise<void> {
  await Promise.all([...live].map((b) => b.kill()));
}

export interface EchoReply {
  id: string;
  message: string;
  authority: string;
  token: string;
  /** X-Forwarded-Client-Cert as the instance received it. */
  peer: string;
}

export type EchoClient = grpc.Client & Record<string, any>;

/** A client for `service` through the listener at `port` (`:authority` names the service, as Host does over HTTP/1.1). */
export function echoClient(port: number, authority?: string): EchoClient {
  const Echo = loadEcho();
  return new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), authority ? { "grpc.default_authority": authority } : {}) as EchoClient;
}

export function metadata(pairs: Record<string, string>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(pairs)) md.set(k, v);
  return md;
}

export function unary(c: EchoClient, message: string, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<EchoReply> {
  return new Promise((resolve, reject) => c.Unary({ message }, md, opts, (err: grpc.ServiceError | null, r: EchoReply) => (err ? reject(err) : resolve(r))));
}

/** The error a unary call ends with (fails the test when it succeeds). */
export async function unaryError(c: EchoClient, message: string, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<grpc.ServiceError> {
  try {
    const r = await unary(c, message, md, opts);
    throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  } catch (err) {
    if ((err as grpc.ServiceError).code === undefined) throw err;
    return err as grpc.ServiceError;
  }
}

export function serverStream(c: EchoClient, message: string, count: number): Promise<EchoReply[]> {
  return new Promise((resolve, reject) => {
    const got: EchoReply[] = [];
    const call = c.ServerStream({ message, count });
    call.on("data", (r: EchoReply) => got.push(r));
    call.on("error", reject);
    call.on("end", () => resolve(got));
  });
}

export function clientStream(c: EchoClient, messages: string[]): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const call = c.ClientStream((err: grpc.ServiceError | null, r: EchoReply) => (err ? reject(err) : resolve(r)));
    for (const message of messages) call.write({ message });
    call.end();
  });
}

/** Bidi, one message at a time: each is written only after the answer to the previous came back (both directions really stream). */
export function bidiPingPong(c: EchoClient, messages: string[]): Promise<EchoReply[]> {
  return new Promise((resolve, reject) => {
    const got: EchoReply[] = [];
    const call = c.Bidi();
    let i = 0;
    call.on("data", (r: EchoReply) => {
      got.push(r);
      if (++i < messages.length) call.write({ message: messages[i] });
      else call.end();
    });
    call.on("error", reject);
    call.on("end", () => resolve(got));
    call.write({ message: messages[0] });
  });
}

export { grpc };
