// An instance that refuses connections, beside one that answers, on the
// raw-socket engine: a call whose attempt is refused goes to the other
// instance, whatever the method and whether or not the client connection
// carried a call before; and the refused attempt touches no connection but
// its own (the live instance's pooled connection stays in use: one upstream
// connection serves a keep-alive client's whole sequence of calls).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { createInvokePlugin } from "../../plugins/invoke/index.ts";
import { freePort } from "../helpers/proc.ts";
import { testPluginHost } from "../helpers/plugin-host.ts";
import { fixedInstances } from "./helpers.ts";

/** A keep-alive HTTP/1.1 instance answering "ok" to every request; counts connections opened and closed. */
function liveInstance() {
  let connections = 0;
  let closed = 0;
  const server = net.createServer((sock) => {
    connections++;
    sock.on("close", () => closed++);
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const cl = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end));
        const total = end + 4 + (cl ? Number(cl[1]) : 0);
        if (buf.length < total) return;
        buf = buf.slice(total);
        sock.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    });
  });
  return { server, connections: () => connections, closed: () => closed };
}

/** Sends `requests` one after the other on one client connection; the answers' status lines. */
function callInSequence(port: number, requests: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const statuses: string[] = [];
    const sock = net.connect(port, "127.0.0.1", () => sock.write(requests[0]!));
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const head = buf.slice(0, end);
        const cl = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + cl) return;
        buf = buf.slice(end + 4 + cl);
        statuses.push(head.slice(0, head.indexOf("\r\n")));
        if (statuses.length === requests.length) {
          sock.end();
          return resolve(statuses);
        }
        sock.write(requests[statuses.length]!);
      }
    });
    sock.on("error", reject);
    sock.on("close", () => statuses.length < requests.length && reject(new Error(`closed after ${statuses.length} answers: ${buf}`)));
  });
}

const live = liveInstance();
let port = 0;
const { host } = testPluginHost(() => ({
  // Never eject, always allow a retry, no backoff: every call meets the refusing instance half the time.
  invoke: { port, engine: "sockets", consecutive_failures: 1000, retry_budget_min_per_second: 10_000, backoff_base: "0ms", backoff_max: "0ms", try_timeout: "2s" },
}));

beforeAll(async () => {
  await new Promise<void>((r) => live.server.listen(0, "127.0.0.1", () => r()));
  const livePort = (live.server.address() as net.AddressInfo).port;
  const deadPort = await freePort(); // nothing listens there: connections are refused
  host.registerBuiltin(createInvokePlugin({ source: fixedInstances({ live: livePort, dead: deadPort }) }));
  port = await freePort();
  expect((await host.enable("invoke")).state).toBe("enabled");
});

afterAll(async () => {
  await host.stopAll();
  live.server.close();
});

describe("an instance that refuses connections", () => {
  test("a refused attempt closes no connection to the live instance: a keep-alive client's calls reuse pooled ones", async () => {
    const opened = live.connections();
    const closed = live.closed();
    const statuses = await callInSequence(port, Array.from({ length: 60 }, () => "GET /x HTTP/1.1\r\nHost: svc\r\n\r\n"));
    expect(statuses.every((s) => s === "HTTP/1.1 200 OK")).toBe(true);
    await Bun.sleep(50); // a close by corral would reach the instance by now
    expect(live.closed() - closed).toBe(0);
    expect(live.connections() - opened).toBeLessThanOrEqual(1);
  });

  test("a refused first attempt on a new client connection goes to the other instance, for GET and POST", async () => {
    for (let i = 0; i < 30; i++) {
      const method = i % 2 ? "POST" : "GET";
      const req = `${method} /x HTTP/1.1\r\nHost: svc\r\nContent-Length: 1\r\n\r\nx`;
      expect(await callInSequence(port, [req])).toEqual(["HTTP/1.1 200 OK"]);
    }
  });
});
