// Intentions on gRPC calls through the proxy listener, with ACLs on (default
// deny): the same decision as for HTTP/1.1 (the invoker's admit, authorize.ts)
// — the caller is its token's service identity, sent as gRPC metadata
// (x-consul-token); a denied call is PERMISSION_DENIED naming the intention,
// an allowed one reaches the instance without the token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, type AclNode } from "../acl/helpers.ts";
import { intentionFixture } from "./intention-fixture.ts";
import { echoClient, grpc, killGrpcBackends, metadata, startGrpcBackend, unary, unaryError, type EchoClient } from "./grpc-helpers.ts";

let n: AclNode;
let web = "";
const clients: EchoClient[] = [];
let port = 0;

beforeAll(async () => {
  ({ n, web, port } = await intentionFixture(startGrpcBackend));
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await killGrpcBackends();
  await killAll();
});

const client = (service: string): EchoClient => {
  const c = echoClient(port, service);
  clients.push(c);
  return c;
};

describe("intentions on gRPC calls", () => {
  test("a denied intention: PERMISSION_DENIED with the intention that matched", async () => {
    const err = await unaryError(client("files"), "x", metadata({ "x-consul-token": web }));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('calling "files" is not allowed: intention web => files (deny)');
  });

  test("an allowing intention: the call goes through, without the token", async () => {
    const r = await unary(client("events"), "hi", metadata({ "x-consul-token": web }));
    expect([r.id, r.message, r.token]).toEqual(["events", "hi", ""]);
  });

  test("no token: the default policy (deny) decides", async () => {
    const err = await unaryError(client("events"), "x");
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});
