// Command log ordering and recovery: writes stream into a dev process
// (each a signed node join = one RegisterNode command); the process is
// killed -9 mid-stream and restarted on the same data dir. Every write
// that got a success answer must be there, and indexes must be ordered.
import { afterAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { startCorral, killAll, getJson, signedPost, devSecretOf, sleep, eventually } from "../helpers/proc.ts";

afterAll(killAll);

const fingerprint = {
  datacenter: "dc1", role: "agent", attributes: { "os.name": "test" },
  resources: { cpuMhz: 1000, cores: 1, memoryBytes: 1 << 30, diskBytes: 1 << 30 },
  reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
};

describe("command log", () => {
  test("kill -9 during a stream of writes loses no acknowledged write", async () => {
    const p = await startCorral({ role: "dev" });
    const secret = devSecretOf(p.dataDir);
    const acked = new Map<string, number>(); // node id -> index
    let stop = false;
    let failures = 0;

    async function writer(w: number) {
      for (let i = 0; !stop; i++) {
        const id = randomUUID();
        try {
          const r = await signedPost(p.url, "/v1/cluster/join", secret, { id, name: `w${w}-n${i}`, address: "127.0.0.1:1", ...fingerprint });
          if (r.status === 200) acked.set(id, r.body.index);
          else failures++;
        } catch {
          failures++; // connection cut by the kill: outcome unknown, not acknowledged
          if (stop) return;
        }
      }
    }

    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    // Kill it mid-stream once enough writes were acknowledged (a loaded machine acknowledges fewer per second).
    await sleep(1500);
    await eventually(() => acked.size > 50, 30_000, 20);
    await p.kill("SIGKILL");
    stop = true;
    await Promise.all(writers);
    expect(acked.size).toBeGreaterThan(50);

    // Every acknowledged write got its own index.
    const indexes = [...acked.values()];
    expect(new Set(indexes).size).toBe(indexes.length);

    const again = await startCorral({ role: "dev", dataDir: p.dataDir });
    const r = await getJson<any[]>(again.url + "/v1/nodes");
    const present = new Map(r.body.map((n) => [n.id, n]));
    const missing = [...acked.keys()].filter((id) => !present.has(id));
    expect(missing).toEqual([]);
    for (const [id, index] of acked) expect(present.get(id).createIndex).toBe(index);
    expect(Number(r.headers.get("x-corral-index"))).toBeGreaterThanOrEqual(Math.max(...indexes));

    // The log keeps going from where it was: a new write gets the next index.
    const next = await signedPost(again.url, "/v1/cluster/join", secret, { id: randomUUID(), name: "after-restart", address: "x", ...fingerprint });
    expect(next.status).toBe(200);
    expect(next.body.index).toBeGreaterThan(Math.max(...indexes));
  }, 60_000);
});
