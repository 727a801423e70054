// gRPC through the proxy listener (h2c on the same port as HTTP/1.1): a real
// grpc-js client and real grpc-js servers registered as a corral service on a
// dev node. Unary, server-, client-streaming and bidi calls; the server's
// status codes and trailing metadata reach the client; calls of ONE client
// connection are balanced per call over the instances; corral's own errors
// are gRPC statuses (UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED). Denied
// intentions: grpc-acl.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { invokeStatus, killBackends, proxyPort, register, setCheck, startBackend, waitPassing } from "./helpers.ts";
import {
  bidiPingPong, clientStream, echoClient, grpc, killGrpcBackends, metadata, serverStream, startGrpcBackend, unary, unaryError, type EchoClient,
} from "./grpc-helpers.ts";

let node: CorralProcess;
let port = 0;
let client: EchoClient;
let silentCalls = 0;
let silentPort = 0;
let closeSilent = () => {};

beforeAll(async () => {
  node = await startCorral({ role: "dev", config: "[plugins.invoke]\nport = 0\nmax_request_bytes = 1048576\ntry_timeout = \"5s\"\ntimeout = \"5s\"\n" });
  const [a, b, down] = await Promise.all([startGrpcBackend("a"), startGrpcBackend("b"), startGrpcBackend("down")]);
  await register(node, "echo", a!);
  await register(node, "echo", b!);
  await register(node, "down", down!);
  await setCheck(node, "down-down", "fail");
  // An h2c instance that takes calls and never answers.
  const silent = http2.createServer();
  silent.on("stream", (st, h) => {
    silentCalls++;
    // "x-echo": answers with what it received (for the plain HTTP/2 test); otherwise never answers.
    if (h["x-echo"]) {
      st.respond({ ":status": 200, "content-type": "application/json" });
      st.end(JSON.stringify({ path: h[":path"], authority: h[":authority"], xff: h["x-forwarded-for"], xfh: h["x-forwarded-host"], traceparent: h.traceparent }));
    }
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  closeSilent = () => silent.close();
  silentPort = (silent.address() as { port: number }).port;
  await register(node, "silent", { id: "silent", port: (silent.address() as { port: number }).port });
  await waitPassing(node, "silent", 1);
  // An HTTP/1.1-only service (test/invoke/backend.ts, Bun.serve): two instances, so the breaker could eject one.
  for (const id of ["p1", "p2"]) await register(node, "plain", await startBackend(id));
  await Promise.all([waitPassing(node, "echo", 2), waitPassing(node, "down", 0), waitPassing(node, "plain", 2)]);
  port = await proxyPort(node);
  client = echoClient(port, "echo");
}, 60_000);

afterAll(async () => {
  client?.close();
  closeSilent();
  await killGrpcBackends();
  await killBackends();
  await killAll();
});

describe("gRPC through the proxy listener", () => {
  test("unary: the answer comes from an instance; :authority reached it as X-Forwarded-Host; the token did not", async () => {
    const r = await unary(client, "hello", metadata({ "x-consul-token": "secret-of-the-caller" }));
    expect(["a", "b"]).toContain(r.id);
    expect(r.message).toBe("hello");
    expect(r.authority).toBe("echo");
    expect(r.token).toBe("");
  });

  test("the server's status, message and trailing metadata pass through", async () => {
    const err = await unaryError(client, "notfound");
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toMatch(/^nothing named notfound on [ab]$/);
    expect(err.metadata.get("x-detail")).toEqual(["no such thing"]);
  });

  test("server streaming, client streaming and bidi", async () => {
    const s = await serverStream(client, "n", 50);
    expect(s.map((r) => r.message)).toEqual(Array.from({ length: 50 }, (_, i) => `n#${i}`));
    expect(new Set(s.map((r) => r.id)).size).toBe(1); // one call, one instance
    const c = await clientStream(client, ["x", "y", "z"]);
    expect(c.message).toBe("x,y,z");
    const b = await bidiPingPong(client, ["1", "2", "3", "4"]);
    expect(b.map((r) => r.message)).toEqual(["echo:1", "echo:2", "echo:3", "echo:4"]);
  });

  test("a large server stream (16 MB) arrives whole and in order: backpressure through the listener's socket", async () => {
    const big = "z".repeat(64 * 1024);
    const s = await serverStream(client, big, 256);
    expect(s.length).toBe(256);
    expect(s.every((r, i) => r.message === `${big}#${i}`)).toBe(true);
  });

  test("an instance dying mid-stream: the client's call fails (UNAVAILABLE/INTERNAL/CANCELLED), it does not end as if complete", async () => {
    const dying = await startGrpcBackend("dying");
    await register(node, "dying", dying);
    await waitPassing(node, "dying", 1);
    const c = echoClient(port, "dying");
    try {
      const got: string[] = [];
      const outcome = await new Promise<string>((resolve) => {
        const call = c.ServerStream({ message: "die", count: 0 });
        call.on("data", (r: { message: string }) => got.push(r.message));
        call.on("error", (err: grpc.ServiceError) => resolve(`error ${err.code}`));
        call.on("end", () => setTimeout(() => resolve("end"), 50));
        setTimeout(() => resolve("hung"), 10_000);
      });
      expect(got).toEqual(["die#0", "die#1"]);
      expect(outcome).toMatch(/^error (14|13|1)$/);
    } finally {
      c.close();
    }
  });

  test("calls of one client connection are balanced per call over both instances", async () => {
    const by = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const r = await unary(client, `m${i}`);
      by.set(r.id, (by.get(r.id) ?? 0) + 1);
    }
    expect(by.get("a") ?? 0).toBeGreaterThan(5);
    expect(by.get("b") ?? 0).toBeGreaterThan(5);
  });

  test("plain HTTP/2 (not gRPC): the path goes on without a ?token= credential; forwarding headers and trace context as on HTTP/1.1", async () => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const req = s.request({ ":method": "GET", ":path": "/look?a=1&token=secret-of-the-caller&b=2", ":authority": "silent", "x-echo": "1" });
      const head = new Promise<http2.IncomingHttpHeaders>((r) => req.once("response", r));
      req.end();
      const h = await head;
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body += d));
      await new Promise((r) => req.once("end", r));
      expect(h[":status"] as unknown).toBe(200);
      const got = JSON.parse(body);
      expect(got).toMatchObject({ path: "/look?a=1&b=2", authority: "127.0.0.1:" + silentPort, xff: "127.0.0.1", xfh: "silent" });
      expect(got.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    } finally {
      s.close();
    }
  });

  test("HTTP/1.1 still works on the same port", async () => {
    const r = await fetch(`http://127.0.0.1:${port}/whatever`, { headers: { host: "nosuch.example" } });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe("NO_SERVICE_IN_HOST");
  });
});

describe("corral's own errors are gRPC statuses", () => {
  test("no healthy instance: UNAVAILABLE", async () => {
    const c = echoClient(port, "down");
    try {
      const err = await unaryError(c, "x");
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.details).toBe('service "down" has no healthy instance');
    } finally {
      c.close();
    }
  });

  test("the client's deadline (grpc-timeout) bounds the call: corral answers DEADLINE_EXCEEDED", async () => {
    // The instance is an h2c server that never answers (a grpc-js server would enforce grpc-timeout
    // itself and race corral), and the client a raw h2 one (grpc-js would also give up on its own):
    // the deadline is corral's alone.
    const s = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const req = s.request({ ":method": "POST", ":path": "/corral.test.Echo/Unary", ":authority": "silent", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "200m" });
      const head = new Promise<http2.IncomingHttpHeaders>((r) => req.once("response", r));
      req.end(grpcFrame(Buffer.from([0x0a, 1, 0x78]))); // EchoRequest{message: "x"}
      const t0 = performance.now();
      const h = await head;
      expect([h[":status"], h["content-type"], h["grpc-status"], h["grpc-message"]] as unknown[]).toEqual([200, "application/grpc", "4", 'service "silent" did not answer within the timeout']);
      expect(performance.now() - t0).toBeLessThan(2500); // the service's own timeout is 5 s
      expect(silentCalls).toBeGreaterThan(0); // it did reach the instance
    } finally {
      s.close();
    }
  });

  test("corral's timeout (X-Corral-Timeout) answers DEADLINE_EXCEEDED from corral", async () => {
    const err = await unaryError(client, "slow:3000", metadata({ "x-corral-timeout": "200ms" }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err.details).toBe('service "echo" did not answer within the timeout');
  });

  test("a request body past max_request_bytes: RESOURCE_EXHAUSTED, counted as it streams", async () => {
    const err = await unaryError(client, "x".repeat(1_100_000));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe("request body is larger than 1048576 bytes");
    expect((await unary(client, "y".repeat(1_000_000))).message.length).toBe(1_000_000); // under the bound: passes
  });

  test("an HTTP/1.1-only service: UNAVAILABLE saying so, and its instances are not ejected for it", async () => {
    const c = echoClient(port, "plain");
    try {
      for (let i = 0; i < 12; i++) {
        const err = await unaryError(c, "x");
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
        expect(err.details).toBe('no instance of "plain" speaks HTTP/2 (h2c); call it over HTTP/1.1');
      }
    } finally {
      c.close();
    }
    // 12 calls, each trying both instances: past consecutive_failures (5) had they counted as failures.
    const st = await invokeStatus(node, "plain");
    expect(st.instances.map((i) => [i.breaker, i.ejections])).toEqual([["closed", 0], ["closed", 0]]);
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: "plain" } });
    expect(r.status).toBe(200);
  });

  test("an unknown service: UNIMPLEMENTED", async () => {
    const c = echoClient(port, "nosuch");
    try {
      const err = await unaryError(c, "x");
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(err.details).toBe('no service named "nosuch" in the catalog');
    } finally {
      c.close();
    }
  });
});

/** One length-prefixed gRPC message (uncompressed). */
function grpcFrame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.byteLength, 1);
  return Buffer.concat([head, msg]);
}
