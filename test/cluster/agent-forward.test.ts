// An agent passes client requests to the leaders in turn (issue 23): a read
// goes on to the next leader after any failure, a write only after one that
// certainly delivered nothing (refused connection), so a write is never
// applied twice and a repeated CAS never answers false for a write that took
// effect. Real loopback sockets.
import { describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { HttpLeaderTransport, RpcError } from "../../core/cluster/transport.ts";
import { freePort } from "../helpers/proc.ts";

/** A raw HTTP server: `reset` drops every connection once the request arrived, else answers 200 "ok". */
async function fakeLeader(reset: boolean): Promise<{ addr: string; hits: () => number; close(): void }> {
  const port = await freePort();
  let hits = 0;
  const sockets: Socket[] = [];
  const srv = createServer((s) => {
    sockets.push(s);
    s.once("data", () => {
      hits++;
      if (reset) s.destroy();
      else s.end("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
  return { addr: `127.0.0.1:${port}`, hits: () => hits, close: () => (sockets.forEach((x) => x.destroy()), srv.close()) };
}

const put = () => new Request("http://agent/v1/kv/k?cas=3", { method: "PUT", body: "v" });
const get = () => new Request("http://agent/v1/kv/k");

describe("agent forwarding to the leaders", () => {
  test("a write lost after it was sent is not sent to the next leader: 504, outcome unknown", async () => {
    const a = await fakeLeader(true), b = await fakeLeader(false);
    try {
      const t = new HttpLeaderTransport([a.addr, b.addr], { secret: "s".repeat(16), node: "test-node" });
      const err = await t.forward(put()).then(() => undefined, (e) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect({ status: err.status, outcome: err.outcome }).toEqual({ status: 504, outcome: "unknown" });
      expect(b.hits()).toBe(0);
      // A read has no effect to repeat: it goes on to the next leader.
      const r = await t.forward(get());
      expect(r.status).toBe(200);
    } finally {
      a.close();
      b.close();
    }
  });

  test("a write refused while connecting goes on to the next leader", async () => {
    const dead = await freePort();
    const b = await fakeLeader(false);
    try {
      const r = await new HttpLeaderTransport([`127.0.0.1:${dead}`, b.addr], { secret: "s".repeat(16), node: "test-node" }).forward(put());
      expect(r.status).toBe(200);
      expect(b.hits()).toBe(1);
    } finally {
      b.close();
    }
  });

  test("every leader refusing: 503, not applied", async () => {
    const d1 = await freePort(), d2 = await freePort();
    const err = await new HttpLeaderTransport([`127.0.0.1:${d1}`, `127.0.0.1:${d2}`], { secret: "s".repeat(16), node: "test-node" }).forward(put()).then(() => undefined, (e) => e);
    expect({ status: err.status, outcome: err.outcome }).toEqual({ status: 503, outcome: "not-applied" });
  });
});

// The same rules for a write an agent proposes (POST /v1/cluster/propose),
// through the one leader client (core/cluster/leader-client.ts), whose every
// failure is an RpcError with its status, code and outcome.
describe("an agent's proposal to the leaders", () => {
  const CMD = { type: "KVSet", v: 1, at: 1, key: "k", value: "dg==", flags: 0 } as never;
  const key = { secret: "s".repeat(16), node: "test-node" };

  test("a proposal lost after it was sent is not sent to the next leader: 504, outcome unknown", async () => {
    const a = await fakeLeader(true), b = await fakeLeader(false);
    try {
      const err = await new HttpLeaderTransport([a.addr, b.addr], key).propose(CMD).then(() => undefined, (e) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect({ status: err.status, code: err.code, outcome: err.outcome }).toEqual({ status: 504, code: "TIMEOUT", outcome: "unknown" });
      expect(b.hits()).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  test("a proposal refused while connecting goes on to the next leader", async () => {
    const dead = await freePort();
    const b = await fakeLeader(false);
    try {
      await new HttpLeaderTransport([`127.0.0.1:${dead}`, b.addr], key).propose(CMD);
      expect(b.hits()).toBe(1);
    } finally {
      b.close();
    }
  });

  test("every leader refusing: 503 NO_LEADER, not applied", async () => {
    const d1 = await freePort(), d2 = await freePort();
    const err = await new HttpLeaderTransport([`127.0.0.1:${d1}`, `127.0.0.1:${d2}`], key).propose(CMD).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect({ status: err.status, code: err.code, outcome: err.outcome }).toEqual({ status: 503, code: "NO_LEADER", outcome: "not-applied" });
    expect(err.message).toEndWith("; the write was not applied");
  });
});
