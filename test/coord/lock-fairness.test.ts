// Hand-over order on a real node: a contender refused while the lock was
// held gets the freed lock before the releaser's own next acquire, which
// arrives first (core/api/acquire-queue.ts). In Consul, and here before, the
// releaser won again and again and the others starved (bench/locks.ts at 16
// contenders: p99 of seconds). Both answer as Consul would for the state at
// the moment each is decided; only the order changes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, startCorral, sleep, type CorralProcess } from "../helpers/proc.ts";

let dev: CorralProcess;
beforeAll(async () => {
  dev = await startCorral({ role: "dev" });
});
afterAll(killAll);

const session = async () => ((await (await fetch(`${dev.url}/v1/session/create`, { method: "PUT", body: JSON.stringify({ LockDelay: "0s" }) })).json()) as { ID: string }).ID;
const lockOp = async (op: "acquire" | "release", s: string, extra = "") =>
  (await (await fetch(`${dev.url}/v1/kv/fair/lock?${op}=${s}${extra}`, { method: "PUT", body: s })).json()) as boolean;
const holder = async () => ((await (await fetch(`${dev.url}/v1/kv/fair/lock`)).json()) as { Session?: string }[])[0]?.Session;

describe("lock hand-over order", () => {
  for (const [via, extra] of [["the fast path", ""], ["the route", "&flags=0"]] as const) {
    test(`through ${via}: the longest waiter gets the lock, not the releaser who asks again first`, async () => {
      const [a, b, c] = [await session(), await session(), await session()];
      expect(await lockOp("acquire", a, extra)).toBe(true);
      expect(await lockOp("acquire", b, extra)).toBe(false);
      expect(await lockOp("acquire", c, extra)).toBe(false);
      expect(await lockOp("release", a, extra)).toBe(true);
      // a asks again at once; b's blocking read would wake it a little later; c later still.
      const again = lockOp("acquire", a, extra);
      await sleep(40);
      const first = lockOp("acquire", b, extra);
      await sleep(20);
      const second = lockOp("acquire", c, extra);
      expect({ a: await again, b: await first, c: await second }).toEqual({ a: false, b: true, c: false });
      expect(await holder()).toBe(b);
      // Next: c (refused before a), while a asks first again.
      expect(await lockOp("release", b, extra)).toBe(true);
      const a2 = lockOp("acquire", a, extra);
      await sleep(40);
      expect({ c: await lockOp("acquire", c, extra), a: await a2 }).toEqual({ c: true, a: false });
      expect(await lockOp("release", c, extra)).toBe(true);
      for (const s of [a, b, c]) await fetch(`${dev.url}/v1/session/destroy/${s}`, { method: "PUT" });
    }, 30_000);
  }

  test("a waiter that never comes back delays the next acquire once, by a quarter second at most", async () => {
    const [a, gone] = [await session(), await session()];
    expect(await lockOp("acquire", a)).toBe(true);
    expect(await lockOp("acquire", gone)).toBe(false);
    expect(await lockOp("release", a)).toBe(true);
    let t = performance.now();
    expect(await lockOp("acquire", a)).toBe(true);
    expect(performance.now() - t).toBeGreaterThanOrEqual(200);
    expect(await lockOp("release", a)).toBe(true);
    t = performance.now();
    expect(await lockOp("acquire", a)).toBe(true);
    expect(performance.now() - t).toBeLessThan(200);
    // A destroyed waiter: no delay at all.
    const d = await session();
    expect(await lockOp("acquire", d)).toBe(false);
    await fetch(`${dev.url}/v1/session/destroy/${d}`, { method: "PUT" });
    expect(await lockOp("release", a)).toBe(true);
    t = performance.now();
    expect(await lockOp("acquire", a)).toBe(true);
    expect(performance.now() - t).toBeLessThan(200);
  }, 30_000);
});
