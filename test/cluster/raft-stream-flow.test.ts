// The stream transport's client side against a real WebSocket server on
// loopback that the test controls (when to acknowledge, when to refuse):
// fallback while the stream is not up, the bounded window of unacknowledged
// frames, the bounded outbox (backpressure drops the oldest), acks releasing
// the queue as one frame, a stream with no ack declared lost whole, and a
// refused handshake keeping the peer on per-message requests.
import { afterEach, expect, test } from "bun:test";
import type { Message } from "../../core/raft/index.ts";
import { StreamingRaftTransport } from "../../core/cluster/raft/stream-transport.ts";
import type { RaftTransport } from "../../core/cluster/raft/transport.ts";
import { createLogger } from "../../core/log.ts";
import { eventually, sleep } from "../helpers/proc.ts";

interface Peer {
  port: number;
  frames: Message[][];
  handshakes: number;
  refuse: boolean;
  autoAck: boolean;
  ack(): void;
  stop(): void;
}

function peer(): Peer {
  const sockets = new Set<{ send(s: string): void; data: { n: number } }>();
  const p: Peer = {
    port: 0, frames: [], handshakes: 0, refuse: false, autoAck: false,
    ack: () => {
      for (const ws of sockets) ws.send(JSON.stringify({ ack: ws.data.n }));
    },
    stop: () => server.stop(true),
  };
  const server = Bun.serve<{ n: number }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      p.handshakes++;
      if (p.refuse || !req.headers.get("x-corral-signature")) return Response.json({ error: "no", code: "NOT_FOUND" }, { status: 404 });
      srv.upgrade(req, { data: { n: 0 } });
      return undefined as unknown as Response;
    },
    websocket: {
      open: (ws) => void sockets.add(ws as never),
      close: (ws) => void sockets.delete(ws as never),
      message(ws, frame) {
        ws.data.n++;
        p.frames.push(JSON.parse(String(frame)));
        if (p.autoAck) ws.send(JSON.stringify({ ack: ws.data.n }));
      },
    },
  });
  p.port = server.port!;
  return p;
}

class Recorder implements RaftTransport {
  sent: Message[] = [];
  send(m: Message[]): void {
    this.sent.push(...m);
  }
  close(): void {}
}

const log = createLogger({ level: "error" });
const msg = (to: string, term: number) => ({ type: "heartbeat", from: "me:1", to, term }) as unknown as Message;
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function transport(opts: { timeoutMs?: number; maxInflightFrames?: number; maxQueued?: number; maxFrameBytes?: number } = {}) {
  const fallback = new Recorder();
  const t = new StreamingRaftTransport({
    key: { secret: "s".repeat(32), node: "me" }, log, fallback, timeoutMs: opts.timeoutMs ?? 5000, maxFrameBytes: opts.maxFrameBytes ?? 1 << 20,
    maxInflightFrames: opts.maxInflightFrames, maxQueued: opts.maxQueued,
  });
  cleanup.push(() => t.close());
  return { t, fallback };
}

test("messages go by the fallback until the stream is open, then as one frame per send, pipelined up to the window", async () => {
  const p = peer();
  cleanup.push(p.stop);
  const to = `127.0.0.1:${p.port}`;
  const { t, fallback } = transport({ maxInflightFrames: 4, maxQueued: 10 });
  t.send([msg(to, 1)]);
  expect(fallback.sent.map((m) => m.term)).toEqual([1]);
  await eventually(() => t.openStreams().includes(to), 5000, 10);
  // No acks: four frames go out without waiting for answers, then the window is full.
  for (let i = 2; i <= 7; i++) t.send([msg(to, i), msg(to, i * 100)]);
  await eventually(() => p.frames.length === 4, 5000, 10);
  await sleep(100);
  expect(p.frames.length).toBe(4);
  expect(p.frames.map((f) => f.map((m) => m.term))).toEqual([[2, 200], [3, 300], [4, 400], [5, 500]]);
  // The outbox is bounded: 10 messages; the oldest are dropped first.
  for (let i = 8; i <= 14; i++) t.send([msg(to, i)]);
  expect(t.stats.dropped).toBe(1);
  // An ack opens the window: everything waiting goes as one frame.
  p.ack();
  await eventually(() => p.frames.length === 5, 5000, 10);
  expect(p.frames[4]!.map((m) => m.term)).toEqual([600, 7, 700, 8, 9, 10, 11, 12, 13, 14]);
  expect(fallback.sent.length).toBe(1);
}, 30_000);

test("a stream whose frames go unacknowledged is lost whole: the next messages go by the fallback, and a new stream follows", async () => {
  const p = peer();
  cleanup.push(p.stop);
  const to = `127.0.0.1:${p.port}`;
  const { t, fallback } = transport({ timeoutMs: 300 });
  t.send([msg(to, 1)]);
  await eventually(() => t.openStreams().includes(to), 5000, 10);
  t.send([msg(to, 2)]);
  await eventually(() => p.frames.length === 1, 5000, 10);
  await eventually(() => t.stats.streamsLost === 1, 5000, 20);
  expect(t.openStreams()).toEqual([]);
  t.send([msg(to, 3)]);
  expect(fallback.sent.map((m) => m.term)).toEqual([1, 3]);
  // Acknowledging peers keep the next stream.
  p.autoAck = true;
  await sleep(100);
  await eventually(() => {
    t.send([msg(to, 4)]);
    return t.openStreams().includes(to);
  }, 5000, 50);
  expect(p.handshakes).toBe(2);
}, 30_000);

test("a refused handshake (a peer without streams) keeps the peer on per-message requests, retried with backoff", async () => {
  const p = peer();
  cleanup.push(p.stop);
  p.refuse = true;
  const to = `127.0.0.1:${p.port}`;
  const { t, fallback } = transport();
  for (let i = 0; i < 50; i++) {
    t.send([msg(to, i)]);
    await sleep(5);
  }
  expect(fallback.sent.length).toBe(50);
  expect(p.frames.length).toBe(0);
  expect(t.openStreams()).toEqual([]);
  // Backoff: not one handshake per send.
  expect(p.handshakes).toBeLessThanOrEqual(2);
}, 30_000);

test("a batch over the frame bound in UTF-8 bytes goes as a request, not onto the stream the peer would close", async () => {
  const p = peer();
  cleanup.push(p.stop);
  p.autoAck = true;
  const to = `127.0.0.1:${p.port}`;
  const { t, fallback } = transport({ maxFrameBytes: 300 });
  t.send([msg(to, 1)]);
  await eventually(() => t.openStreams().includes(to), 5000, 10);
  // 100 UTF-16 units of data, 300 bytes in UTF-8: under the bound by length, over it in bytes.
  const big = { ...msg(to, 2), data: "€".repeat(100) } as unknown as Message;
  t.send([big]);
  t.send([msg(to, 3)]);
  await eventually(() => p.frames.length === 1, 5000, 10);
  expect(p.frames[0]!.map((m) => m.term)).toEqual([3]);
  expect(fallback.sent.map((m) => m.term)).toEqual([1, 2]);
}, 30_000);
