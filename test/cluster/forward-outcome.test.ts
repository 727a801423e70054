// How a follower's forwarded write reports a failure (issue 23): refused while
// connecting = certainly not applied (503), anything after = outcome unknown.
// Real loopback sockets.
import { describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { leaderProposer, RpcError } from "../../core/cluster/leader-client.ts";
import { failedBeforeSending } from "../../core/http/connect-error.ts";
import { freePort } from "../helpers/proc.ts";

const CMD = { type: "KVSet", v: 1, at: 1, key: "k", value: "dg==", flags: 0 } as never;

async function failure(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("the forward succeeded");
}

/** A TCP server that reads the request and then does `then` with the socket. */
async function server(then: (s: Socket) => void): Promise<{ addr: string; close(): void }> {
  const port = await freePort();
  const sockets: Socket[] = [];
  const srv = createServer((s) => {
    sockets.push(s);
    s.once("data", () => then(s));
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
  return { addr: `127.0.0.1:${port}`, close: () => (sockets.forEach((s) => s.destroy()), srv.close()) };
}

/** A follower's forwarder: the one leader client (core/cluster/leader-client.ts). */
const proposer = (timeoutMs = 15_000) => leaderProposer({ key: { secret: "s".repeat(16), node: "test-node" }, timeoutMs });

describe("forwarded write outcomes", () => {
  test("connection refused: NOT_LEADER, not applied", async () => {
    const port = await freePort(); // nothing listens there
    const err = await failure(proposer().propose(`127.0.0.1:${port}`, CMD));
    expect({ status: err.status, code: err.code, outcome: err.outcome }).toEqual({ status: 503, code: "NOT_LEADER", outcome: "not-applied" });
  });

  test("connection reset after the request was sent: TIMEOUT, outcome unknown", async () => {
    const s = await server((sock) => sock.destroy());
    try {
      const err = await failure(proposer().propose(s.addr, CMD));
      expect({ status: err.status, code: err.code, outcome: err.outcome }).toEqual({ status: 504, code: "TIMEOUT", outcome: "unknown" });
    } finally {
      s.close();
    }
  });

  test("no answer in time: TIMEOUT, outcome unknown", async () => {
    const s = await server(() => {});
    try {
      const err = await failure(proposer(300).propose(s.addr, CMD));
      expect({ status: err.status, code: err.code, outcome: err.outcome }).toEqual({ status: 504, code: "TIMEOUT", outcome: "unknown" });
    } finally {
      s.close();
    }
  });

  test("an uncoded 502 may hide an applied write; an uncoded 503 is a refusal; the leader's own outcome header is kept", async () => {
    const answer = (status: number, body: string, extra = "") => (sock: Socket) =>
      sock.end(`HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${extra}connection: close\r\n\r\n${body}`);
    const cases = [
      { srv: answer(502, "{}"), code: "TIMEOUT", outcome: "unknown" },
      { srv: answer(503, "{}"), code: "NOT_LEADER", outcome: "not-applied" },
      { srv: answer(503, JSON.stringify({ code: "SHUTTING_DOWN", error: "x" }), "x-corral-outcome: unknown\r\n"), code: "SHUTTING_DOWN", outcome: "unknown" },
      { srv: answer(504, JSON.stringify({ code: "TIMEOUT", error: "x" })), code: "TIMEOUT", outcome: "unknown" },
    ];
    for (const c of cases) {
      const s = await server(c.srv);
      try {
        const err = await failure(proposer().propose(s.addr, CMD));
        expect({ code: err.code as string, outcome: err.outcome as string }).toEqual({ code: c.code, outcome: c.outcome });
      } finally {
        s.close();
      }
    }
  });

  test("failedBeforeSending looks through causes and knows Bun's and Node's codes", () => {
    expect(failedBeforeSending(Object.assign(new TypeError("x"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(failedBeforeSending(Object.assign(new Error("x"), { code: "ConnectionRefused" }))).toBe(true);
    expect(failedBeforeSending(new Error("fetch failed", { cause: { code: "ECONNREFUSED" } }))).toBe(true);
    expect(failedBeforeSending(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toBe(false);
    expect(failedBeforeSending(new DOMException("timed out", "TimeoutError"))).toBe(false);
    expect(failedBeforeSending(undefined)).toBe(false);
  });
});
