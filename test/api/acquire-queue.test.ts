// The leader's per-key acquire queue (core/api/acquire-queue.ts): one
// proposal at a time, refused acquires answered without a proposal, and a
// free key offered first to the session refused longest ago, for at most
// holdMs. A small model of the key stands in for the state and the log.
import { describe, expect, test } from "bun:test";
import { AcquireQueue, type AcquireView } from "../../core/api/acquire-queue.ts";

function lockModel(opts: { holdMs?: number; dead?: Set<string> } = {}) {
  let holder = "";
  const proposed: string[] = [];
  const q = new AcquireQueue({ alive: (s) => !opts.dead?.has(s), holdMs: opts.holdMs ?? 1_000 });
  const view = (s: string): AcquireView => (holder === s ? "direct" : holder ? "refused" : "free");
  const acquire = (s: string, signal?: AbortSignal) =>
    q.run("k", s, () => view(s), async () => {
      proposed.push(s);
      await Bun.sleep(5); // the log round
      if (holder && holder !== s) return false; // the applier decides
      holder = s;
      return true;
    }, signal);
  return { q, acquire, proposed, release: () => (holder = ""), holder: () => holder };
}

describe("AcquireQueue", () => {
  test("acquires of a free key arriving together: one proposal, the others refused without one", async () => {
    const m = lockModel();
    expect(await Promise.all(["a", "b", "c"].map((s) => m.acquire(s)))).toEqual([true, false, false]);
    expect(m.proposed).toEqual(["a"]);
    expect(m.q.size()).toBe(1); // b and c wait
  });

  test("the session refused longest ago gets the freed key, not the releaser who asks first", async () => {
    const m = lockModel();
    expect(await m.acquire("a")).toBe(true);
    expect(await m.acquire("b")).toBe(false);
    expect(await m.acquire("c")).toBe(false);
    m.release();
    // The releaser asks again at once; b, woken by its blocking read, 30 ms later; then c.
    const again = m.acquire("a");
    await Bun.sleep(30);
    const b = m.acquire("b");
    await Bun.sleep(10);
    const c = m.acquire("c");
    expect(await Promise.all([again, b, c])).toEqual([false, true, false]);
    expect(m.proposed).toEqual(["a", "b"]);
    // Next hand-over: c (refused before a), then a.
    m.release();
    const [a2, c2] = await Promise.all([m.acquire("a"), m.acquire("c")]);
    expect([a2, c2]).toEqual([false, true]);
    m.release();
    expect(await m.acquire("a")).toBe(true);
  });

  test("a waiter that does not come back holds an acquire for holdMs at most, once; a destroyed one not at all", async () => {
    const dead = new Set<string>();
    const m = lockModel({ holdMs: 100, dead });
    await m.acquire("a");
    for (const s of ["gone", "destroyed", "b"]) expect(await m.acquire(s)).toBe(false);
    dead.add("destroyed");
    m.release();
    let t = performance.now();
    expect(await m.acquire("a")).toBe(true);
    const held = performance.now() - t;
    expect(held).toBeGreaterThanOrEqual(95);
    expect(held).toBeLessThan(1_000);
    // Every session ahead of a was forgotten with the one that did not come: b too.
    m.release();
    t = performance.now();
    expect(await m.acquire("a")).toBe(true);
    expect(performance.now() - t).toBeLessThan(90);
    // Only a destroyed session ahead: no wait.
    expect(await m.acquire("x")).toBe(false);
    dead.add("x");
    m.release();
    t = performance.now();
    expect(await m.acquire("a")).toBe(true);
    expect(performance.now() - t).toBeLessThan(90);
  });

  test("an acquire held for a waiter whose client goes away is not proposed", async () => {
    const m = lockModel({ holdMs: 200 });
    await m.acquire("a");
    expect(await m.acquire("b")).toBe(false);
    m.release();
    const gone = new AbortController();
    const held = m.acquire("c", gone.signal);
    await Bun.sleep(20);
    gone.abort();
    expect(await held).toBe(false);
    expect(m.proposed).toEqual(["a"]);
    expect(m.holder()).toBe("");
  });

  test("the holder's re-acquire is never held; nothing is kept for a key nobody waits on", async () => {
    const m = lockModel({ holdMs: 10_000 });
    await m.acquire("a");
    expect(await m.acquire("b")).toBe(false);
    const t = performance.now();
    expect(await m.acquire("a")).toBe(true);
    expect(performance.now() - t).toBeLessThan(1_000);
    m.release();
    expect(await m.acquire("b")).toBe(true);
    expect(m.q.size()).toBe(0);
  });
});
