// The sockets engine's upstream pool (plugins/invoke/fast/upstream.ts) at a
// burst, in process over real loopback sockets: an attempt that finds no idle
// connection dials one and meanwhile takes the first connection another
// attempt releases. The test holds the dial at a gate (for the mesh, the
// dial is an mTLS handshake of a few ms of CPU on both nodes, longer on a
// busy one) and sees who gets what:
//   - a connection released while the dial is held goes to the waiting
//     attempt at once, not after the dial;
//   - the dial, once through, joins the pool (the next acquire gets it
//     without dialing) or serves the next waiting attempt, which opens no
//     connection of its own while such a dial is under way;
//   - a dial that fails after its attempt was served hurts nobody; one that
//     fails while its attempt still waits rejects that attempt, as before;
//   - the mesh's pool keeps idle connections 60 s, an instance's 4 s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Endpoint } from "../../plugins/invoke/pool.ts";
import { IDLE_SECONDS, UpstreamPool, type BunSocket, type Route, type SocketHandlers, type UpstreamConn } from "../../plugins/invoke/fast/upstream.ts";
import { MESH_IDLE_SECONDS } from "../../plugins/invoke/fast/mesh-upstream.ts";

let server: { port: number; stop(force?: boolean): void };
let accepted = 0;

beforeAll(() => {
  server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void accepted++, data() {} } });
});
afterAll(() => server.stop(true));

/** A pool whose dials wait at a gate the test opens (or fails) one at a time. */
class GatedPool extends UpstreamPool {
  gates: { open(): void; fail(err: Error): void }[] = [];
  dials = 0;
  protected override dial(ep: Endpoint, route: Route, conn: UpstreamConn, handlers: SocketHandlers): Promise<BunSocket> {
    this.dials++;
    return new Promise<void>((open, fail) => this.gates.push({ open, fail })).then(() => super.dial(ep, route, conn, handlers));
  }
}

const endpoint = () => new Endpoint({ key: "n/x", node: "n", serviceId: "x", address: "127.0.0.1", port: server.port, weight: 1 }, Date.now());

/** What a pending acquire gives within `ms`: the connection, "waiting", or the error. */
async function within(p: UpstreamConn | Promise<UpstreamConn>, ms: number): Promise<UpstreamConn | "waiting" | Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"waiting">((r) => (timer = setTimeout(() => r("waiting"), ms)));
  try {
    return await Promise.race([Promise.resolve(p).catch((e: Error) => e), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await Bun.sleep(10);
  expect(cond()).toBe(true);
}

describe("an attempt waiting for its dial takes a connection released meanwhile", () => {
  test("the released connection goes to the waiting attempt at once; the dial joins the pool", async () => {
    const pool = new GatedPool();
    const ep = endpoint();
    try {
      const first = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 1);
      pool.gates[0]!.open();
      const c1 = (await first) as UpstreamConn;
      // c1 carries an attempt; a second attempt finds no idle connection and dials (held at the gate).
      const second = pool.acquire(ep);
      expect(second).toBeInstanceOf(Promise);
      await waitFor(() => pool.gates.length === 2);
      pool.release(c1);
      // The old pool made the second attempt wait for its own dial, however long the handshake took.
      expect(await within(second, 2000)).toBe(c1);
      // The dial goes on and its connection is pooled: the next acquire gets it without a third dial.
      pool.gates[1]!.open();
      await waitFor(() => accepted >= 2);
      await Bun.sleep(50);
      const third = pool.acquire(ep);
      expect(third).not.toBeInstanceOf(Promise);
      expect(third).not.toBe(c1);
      expect(pool.dials).toBe(2);
    } finally {
      pool.close();
    }
  });

  test("waiting attempts are served oldest first, by releases and by dials", async () => {
    const pool = new GatedPool();
    const ep = endpoint();
    try {
      const a = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 1);
      pool.gates[0]!.open();
      const c1 = (await a) as UpstreamConn;
      const b = pool.acquire(ep);
      const c = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 3);
      pool.release(c1);
      expect(await within(b, 2000)).toBe(c1);
      expect(await within(c, 100)).toBe("waiting");
      // b's dial completes first: b was served, so its connection goes to c.
      pool.gates[1]!.open();
      const cc = await within(c, 2000);
      expect(cc).not.toBe("waiting");
      expect(cc).not.toBe(c1);
      pool.gates[2]!.open();
    } finally {
      pool.close();
    }
  });

  test("a dial that fails after its attempt was served is dropped; one that fails while it waits rejects it", async () => {
    const pool = new GatedPool();
    const ep = endpoint();
    try {
      const a = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 1);
      pool.gates[0]!.open();
      const c1 = (await a) as UpstreamConn;
      const b = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 2);
      pool.release(c1);
      expect(await within(b, 2000)).toBe(c1);
      pool.gates[1]!.fail(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
      await Bun.sleep(20);
      // Nothing idle (c1 is still out): the next attempt dials, and its failure is its own.
      const d = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 3);
      pool.gates[2]!.fail(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
      const out = await within(d, 2000);
      expect(out).toBeInstanceOf(Error);
      expect((out as Error & { code?: string }).code).toBe("ECONNREFUSED");
    } finally {
      pool.close();
    }
  });

  test("an attempt arriving while a dial's own attempt was served waits for that dial: no connection more than needed", async () => {
    const pool = new GatedPool();
    const ep = endpoint();
    try {
      const a = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 1);
      pool.gates[0]!.open();
      const c1 = (await a) as UpstreamConn;
      const b = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 2);
      pool.release(c1);
      expect(await within(b, 2000)).toBe(c1);
      // The second dial is still under way with no attempt of its own: the next attempt takes it, no third dial.
      const c = pool.acquire(ep);
      await Bun.sleep(50);
      expect(pool.dials).toBe(2);
      pool.gates[1]!.open();
      const got = await within(c, 2000);
      expect(got).not.toBe("waiting");
      expect(got).not.toBe(c1);
      expect(pool.dials).toBe(2);
      // And when such a dial fails, the attempt that counted on it fails as its own dial would have.
      const d = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 3);
      pool.release(c1);
      expect(await within(d, 2000)).toBe(c1);
      const e = pool.acquire(ep);
      await Bun.sleep(50);
      expect(pool.dials).toBe(3);
      pool.gates[2]!.fail(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
      const out = await within(e, 2000);
      expect(out).toBeInstanceOf(Error);
      expect((out as Error & { code?: string }).code).toBe("ECONNREFUSED");
    } finally {
      pool.close();
    }
  });

  test("a connection due for renewal (the mesh's leaf) is not handed to a waiting attempt", async () => {
    const pool = new GatedPool();
    const ep = endpoint();
    try {
      const a = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 1);
      pool.gates[0]!.open();
      const c1 = (await a) as UpstreamConn;
      c1.notAfter = Date.now() - 1;
      const b = pool.acquire(ep);
      await waitFor(() => pool.gates.length === 2);
      pool.release(c1);
      expect(await within(b, 200)).toBe("waiting");
      expect(c1.closed).toBe(true);
      pool.gates[1]!.open();
      const got = await within(b, 2000);
      expect(got).not.toBe("waiting");
      expect(got).not.toBe(c1);
    } finally {
      pool.close();
    }
  });
});

test("the mesh's pool keeps idle connections for a minute, an instance's for 4 s", () => {
  expect(IDLE_SECONDS).toBe(4);
  expect(MESH_IDLE_SECONDS).toBe(60);
});
