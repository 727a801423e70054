// Real check targets the tests flip between healthy and failing: an HTTP
// server whose answer per path is a mode or a script (one answer per
// request, then the last one forever), and a TCP listener that can be
// closed and reopened on its port.
import { createServer, type Server } from "node:net";
import { freePort, getJson } from "../helpers/proc.ts";
import { openSse } from "../helpers/sse.ts";

export type Answer = "ok" | "fail" | "429" | "slow";

export interface HttpTarget {
  port: number;
  url(path: string): string;
  /** Answer every request to `path` this way from now on. */
  set(path: string, a: Answer): void;
  /** Answer the next requests to `path` in this order, then keep the last. */
  script(path: string, answers: Answer[]): void;
  hits(path: string): number;
  /** The last request to `path`. */
  last(path: string): { method: string; headers: Headers; body: string; ua: string } | undefined;
  stop(): void;
}

export function httpTarget(body = "ok"): HttpTarget {
  const modes = new Map<string, Answer[]>();
  const hits = new Map<string, number>();
  const lasts = new Map<string, { method: string; headers: Headers; body: string; ua: string }>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      lasts.set(path, { method: req.method, headers: req.headers, body: await req.text(), ua: req.headers.get("user-agent") ?? "" });
      const list = modes.get(path) ?? ["ok"];
      const a = list.length > 1 ? list.shift()! : list[0]!;
      if (a === "fail") return new Response("broken", { status: 503 });
      if (a === "429") return new Response(`slow down ${"x".repeat(1000)}`, { status: 429 });
      if (a === "slow") await Bun.sleep(2_000);
      return new Response(body);
    },
  });
  return {
    port: server.port!,
    url: (path) => `http://127.0.0.1:${server.port}${path}`,
    set: (path, a) => void modes.set(path, [a]),
    script: (path, answers) => void modes.set(path, [...answers]),
    hits: (path) => hits.get(path) ?? 0,
    last: (path) => lasts.get(path),
    stop: () => void server.stop(true),
  };
}

export interface TcpTarget {
  port: number;
  open(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpTarget(): Promise<TcpTarget> {
  const port = await freePort();
  let server: Server | undefined;
  const t: TcpTarget = {
    port,
    open: () => new Promise((res, rej) => {
      server = createServer((s) => s.destroy());
      server.once("error", rej);
      server.listen(port, "127.0.0.1", () => res());
    }),
    close: () => new Promise((res) => (server ? server.close(() => res()) : res())),
  };
  await t.open();
  return t;
}

/** The statuses a check went through, in log order, from the node's event stream (topic check). */
export async function checkTransitions(baseUrl: string) {
  const raft = (await getJson(`${baseUrl}/v1/operator/raft`)).body;
  const stream = await openSse(`${baseUrl}/v1/events?topic=check&index=${raft.commitIndex}`);
  const of = (checkId: string): string[] =>
    stream.messages
      .map((m) => JSON.parse(m.data))
      .filter((e) => e.type === "CheckStatusChanged" && e.payload.checkId === checkId)
      .map((e) => e.payload.status);
  return { stream, of, until: (checkId: string, n: number, ms = 15_000) => stream.until(() => of(checkId).length >= n, ms).then(() => of(checkId)) };
}

export async function commitIndex(baseUrl: string): Promise<number> {
  return Number((await getJson(`${baseUrl}/v1/operator/raft`)).body.commitIndex);
}

export async function checkOf(baseUrl: string, service: string, checkId: string): Promise<{ Status: string; Output: string } | undefined> {
  const list = (await getJson<{ CheckID: string; Status: string; Output: string }[]>(`${baseUrl}/v1/health/checks/${service}`)).body;
  return Array.isArray(list) ? list.find((c) => c.CheckID === checkId) : undefined;
}
