// Watching something through blocking queries, for plugins: one long-lived
// loop per watched thing that asks again as soon as an answer comes (with
// `index`, so the next answer comes when the data changed or at `wait`),
// keeps the last value on errors and retries with backoff.
//
// `watchRemote` is the agent's form: agents hold no state, so they ask a
// leader-role node through ctx.forward with `stale` (any of them may answer
// from its replica) — what a Consul agent does for its local clients.

export interface WatchHandlers<T> {
  update(value: T): void;
  error(err: unknown): void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 15_000;

/**
 * Runs `step(index)` until stopped; each step returns the index to wait on
 * next. A failing step is reported and retried with backoff from index 0.
 */
export function watchLoop(step: (index: number, signal: AbortSignal) => Promise<number>, on: Pick<WatchHandlers<unknown>, "error">): { stop(): void } {
  const ctl = new AbortController();
  void (async () => {
    let index = 0;
    let failures = 0;
    while (!ctl.signal.aborted) {
      try {
        index = await step(index, ctl.signal);
        failures = 0;
      } catch (err) {
        if (ctl.signal.aborted) break;
        on.error(err);
        failures++;
        index = 0;
        await abortableSleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1)), ctl.signal);
      }
    }
  })();
  return { stop: () => ctl.abort() };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/**
 * Watches `GET <path>` on a leader through `forward` (a blocking query with
 * `stale`, `index` and `wait`): `update` gets the parsed JSON body first,
 * then whenever X-Consul-Index moves. A non-2xx answer is an error.
 */
export function watchRemote(
  forward: (req: Request) => Promise<Response>,
  path: string,
  waitMs: number,
  on: WatchHandlers<unknown>,
): { stop(): void } {
  const sep = path.includes("?") ? "&" : "?";
  return watchLoop(async (index, signal) => {
    const url = `http://leader${path}${sep}stale&index=${index}&wait=${Math.ceil(waitMs / 1000)}s`;
    // The leader adds up to wait/16 of jitter; past that (plus slack) the connection is presumed dead.
    const deadline = AbortSignal.timeout(waitMs + waitMs / 16 + 10_000);
    const res = await forward(new Request(url, { signal: AbortSignal.any([signal, deadline]) }));
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const body: unknown = await res.json();
    const next = Number(res.headers.get("x-consul-index") ?? 0);
    if (signal.aborted) return index;
    if (index === 0 || next !== index) on.update(body);
    // An index that went backwards (a leader restored from a snapshot) restarts the watch (Consul's rule).
    return next > 0 && next >= index ? next : 0;
  }, on);
}
