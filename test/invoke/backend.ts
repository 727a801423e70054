// A small backend for the invoke tests and benchmark, run as a child process:
// `bun test/invoke/backend.ts <id> [port]`. Prints "READY <port>" once up.
//
//   any path         -> 200, body = id (header x-backend: id)
//   /echo...         -> JSON: id, method, path, headers, body byte count
//   /upload          -> reads the body as it comes: JSON { id, bytes, sha256 }
//   /seen            -> bytes of the current /upload received so far
//   /download?mb=N   -> N MiB (byte i = i % 251 within each MiB), streamed
//   /sse?n=&every=   -> n events, one every `every` ms
//   /__control?slow=MS&fail=STATUS -> every later request waits MS / answers STATUS (0 = off)
//   /ws              -> WebSocket: greets "hello <id>", echoes "<id>:<message>",
//                       closes (code 4000) on the message "bye"
//   /__stats         -> requests served (control and stats excluded), WebSockets open and closed
import { createHash } from "node:crypto";

const id = process.argv[2] ?? "backend";
let slowMs = 0;
let failStatus = 0;
let served = 0;
let seen = 0;
let wsOpen = 0;
let wsClosed = 0;

const encoder = new TextEncoder();

function sse(n: number, everyMs: number): Response {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(encoder.encode(": open\n\n")); // headers and a first byte at once
    },
    async pull(c) {
      if (i >= n) return c.close();
      await Bun.sleep(everyMs);
      c.enqueue(encoder.encode(`id: ${i}\ndata: ${JSON.stringify({ n: i, at: Date.now(), from: id })}\n\n`));
      i++;
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/** `mb` MiB of a known pattern (byte i = i % 251), produced as it is read. */
function download(mb: number): Response {
  const chunk = new Uint8Array(1 << 20).map((_, i) => i % 251);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === mb) return c.close();
      sent++;
      c.enqueue(chunk);
    },
  });
  return new Response(stream, { headers: { "content-type": "application/octet-stream", "content-length": String(mb << 20) } });
}

async function upload(req: Request): Promise<Response> {
  const hash = createHash("sha256");
  let bytes = 0;
  seen = 0;
  for await (const chunk of req.body ?? []) {
    bytes += chunk.byteLength;
    seen = bytes;
    hash.update(chunk);
  }
  return Response.json({ id, bytes, sha256: hash.digest("hex") });
}

const server = Bun.serve({
  websocket: {
    open(ws) {
      wsOpen++;
      ws.send(`hello ${id}`);
    },
    message(ws, message) {
      if (message === "bye") return ws.close(4000, "bye");
      ws.send(typeof message === "string" ? `${id}:${message}` : message);
    },
    close() {
      wsClosed++;
    },
  },
  hostname: "127.0.0.1",
  port: Number(process.argv[3] ?? 0),
  idleTimeout: 0,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === "/ws") return srv.upgrade(req) ? undefined : new Response("expected a WebSocket upgrade", { status: 426 });
    if (url.pathname === "/__control") {
      if (url.searchParams.has("slow")) slowMs = Number(url.searchParams.get("slow"));
      if (url.searchParams.has("fail")) failStatus = Number(url.searchParams.get("fail"));
      return new Response("ok");
    }
    if (url.pathname === "/__stats") return Response.json({ id, served, wsOpen, wsClosed });
    if (url.pathname === "/seen") return new Response(String(seen));
    served++;
    if (slowMs) await Bun.sleep(slowMs);
    if (failStatus) return new Response(`failing (${id})`, { status: failStatus, headers: { "x-backend": id } });
    if (url.pathname === "/upload") return upload(req);
    if (url.pathname === "/download") return download(Number(url.searchParams.get("mb") ?? 1));
    if (url.pathname === "/sse") return sse(Number(url.searchParams.get("n") ?? 5), Number(url.searchParams.get("every") ?? 200));
    if (url.pathname.startsWith("/echo")) {
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array();
      return Response.json({ id, method: req.method, path: url.pathname + url.search, headers: Object.fromEntries(req.headers), bytes: body.byteLength });
    }
    return new Response(id, { headers: { "x-backend": id } });
  },
});
console.log(`READY ${server.port}`);
