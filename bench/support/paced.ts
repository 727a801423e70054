// A fixed-rate HTTP/1.1 load generator (wrk2 is not packaged in Debian and
// wrk has no -R): requests are due at start + i/rate, go out on the first
// idle keep-alive connection, and each latency is measured from when the
// request was due — not from when it went out — so a stall shows in the
// percentiles instead of silently lowering the rate (coordinated omission).
// Small answers with content-length only (the bench backends' answers).

export interface PacedFigures {
  rate: number;
  sent: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 2xx, and connections lost. */
  errors: number;
  /** Requests due that got no answer before the run's time ran out (the target could not keep the rate). */
  unanswered: number;
}

interface Conn {
  sock: { write(d: string): number; end(): void };
  buf: string;
  /** When the request in flight was due (performance.now()); -1 when idle. */
  due: number;
  dead: boolean;
}

const pct = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** `rate` req/s for `seconds` to host:port over `connections` connections; the first `warmSeconds` are not counted. */
export async function paced(o: { host: string; port: number; hostHeader?: string; headers?: Record<string, string>; rate: number; seconds: number; connections: number; warmSeconds?: number }): Promise<PacedFigures> {
  const request = `GET / HTTP/1.1\r\nhost: ${o.hostHeader ?? o.host}\r\n${Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
  const warm = (o.warmSeconds ?? 1) * o.rate;
  const total = warm + o.seconds * o.rate;
  const lat = new Float64Array(total);
  let done = 0;
  let errors = 0;
  let issued = 0;
  const idle: Conn[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const conns: Conn[] = [];

  const completed = (c: Conn, ok: boolean) => {
    if (!ok) errors++;
    lat[done++] = performance.now() - c.due;
    c.due = -1;
    if (done === total) return finish();
    if (!c.dead) idle.push(c);
  };
  for (let i = 0; i < o.connections; i++) {
    const c: Conn = { sock: undefined!, buf: "", due: -1, dead: false };
    c.sock = await Bun.connect({
      hostname: o.host, port: o.port,
      socket: {
        data(_s, d) {
          c.buf += d.toString("latin1");
          for (;;) {
            const end = c.buf.indexOf("\r\n\r\n");
            if (end < 0) return;
            const len = Number(/content-length:\s*(\d+)/i.exec(c.buf.slice(0, end))?.[1] ?? 0);
            if (c.buf.length < end + 4 + len) return;
            const ok = c.buf.startsWith("HTTP/1.1 2");
            c.buf = c.buf.slice(end + 4 + len);
            completed(c, ok);
          }
        },
        close() {
          c.dead = true;
          if (c.due >= 0) completed(c, false);
        },
        error() {},
      },
    });
    (c.sock as unknown as { setNoDelay(b: boolean): void }).setNoDelay(true);
    conns.push(c);
    idle.push(c);
  }
  const t0 = performance.now();
  const backlog: number[] = []; // due times waiting for an idle connection
  const tick = setInterval(() => {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - t0) * o.rate) / 1000));
    while (issued < due) backlog.push(t0 + (issued++ * 1000) / o.rate);
    while (backlog.length && idle.length) {
      const c = idle.pop()!;
      c.due = backlog.shift()!;
      c.sock.write(request);
    }
  }, 1);
  const timeout = setTimeout(finish, (o.seconds + (o.warmSeconds ?? 1)) * 1000 + 5000);
  await finished;
  clearInterval(tick);
  clearTimeout(timeout);
  for (const c of conns) c.sock.end();
  const counted = lat.slice(Math.min(warm, done), done).sort();
  // A target that fell behind has no meaningful percentiles: NaN (null in JSON), and how many went unanswered.
  const behind = total - done;
  const p = (q: number) => (behind || !counted.length ? NaN : round3(pct(counted, q)));
  return { rate: o.rate, sent: counted.length, p50Ms: p(50), p99Ms: p(99), errors, unanswered: behind };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
