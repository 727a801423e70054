// Failures of real backend processes behind a dev node's proxy: kill -9
// under load, a slow instance (timeouts, ejection, half-open recovery), the
// retry budget when every instance fails, and the per-call deadline header.
// The catalog keeps listing the broken instances as passing (their TTL
// checks are long): only the proxy's own resilience is under test.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, getJson, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { invokeStatus, killBackends, proxyPort, register, startBackend, waitPassing, type Backend } from "./helpers.ts";

for (const engine of ["sockets", "fetch"] as const) {
  describe(`engine = ${engine}`, () => {
    let node: CorralProcess;
    let port = 0;

    const CONFIG = `[plugins.invoke]
port = 0
engine = "${engine}"
try_timeout = "300ms"
timeout = "5s"
consecutive_failures = 3
base_ejection_time = "1s"
max_ejection_time = "10s"
retry_budget_percent = 20
retry_budget_min_per_second = 1
retry_budget_window = "10s"
`;

    beforeAll(async () => {
      node = await startCorral({ role: "dev", config: CONFIG });
      port = await proxyPort(node);
    }, 30_000);

    afterAll(async () => {
      await killBackends();
      await killAll();
    });

    async function service(name: string, ids: string[]): Promise<Backend[]> {
      const list = await Promise.all(ids.map((id) => startBackend(`${name}-${id}`)));
      for (const b of list) await register(node, name, b, { id: b.id });
      await waitPassing(node, name, ids.length);
      return list;
    }

    /** GETs through the proxy until `stop()`; records what answered and every failure. */
    function clientLoop(host: string, concurrency: number) {
      const answers: { at: number; id: string }[] = [];
      const failures: string[] = [];
      let running = true;
      const worker = async () => {
        while (running) {
          try {
            const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { host } });
            const text = await r.text();
            if (r.status === 200) answers.push({ at: Date.now(), id: text });
            else failures.push(`${r.status} ${text.slice(0, 200)}`);
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const done = Promise.all(Array.from({ length: concurrency }, worker));
      return { answers, failures, stop: async () => { running = false; await done; } };
    }

    describe("resilience", () => {
      test("kill -9 of an instance under load costs idempotent GETs no visible failure", async () => {
        const [a, b, c] = await service("kill", ["a", "b", "c"]);
        const loop = clientLoop("kill", 8);
        await sleep(1000);
        const killedAt = Date.now();
        await b!.kill("SIGKILL");
        await sleep(2000);
        await loop.stop();
        expect(loop.failures).toEqual([]);
        const before = new Set(loop.answers.filter((x) => x.at < killedAt).map((x) => x.id));
        expect([...before].sort()).toEqual([a!.id, b!.id, c!.id]);
        const after = loop.answers.filter((x) => x.at > killedAt + 200).map((x) => x.id);
        expect(after.length).toBeGreaterThan(50);
        expect(after).not.toContain(b!.id);
        const st = await invokeStatus(node, "kill");
        expect(st.instances.find((i) => i.id === b!.id)!.ejections).toBeGreaterThan(0);
      }, 30_000);

      test("a slow instance times out, is ejected, and comes back through a half-open probe once it recovers", async () => {
        const [s1, s2, s3] = await service("slow", ["1", "2", "3"]);
        await s1!.control("slow=2000");
        const loop = clientLoop("slow", 4);
        const ejected = await eventually(async () => {
          const st = await invokeStatus(node, "slow");
          return st.instances.find((i) => i.id === s1!.id && i.breaker !== "closed");
        }, 10_000, 50);
        expect(ejected.ejections).toBeGreaterThanOrEqual(1);
        // Timeouts were retried on the others: the client saw none of them.
        await sleep(500);
        expect(loop.failures).toEqual([]);
        await s1!.control("slow=0");
        const servedBefore = await s1!.served();
        await eventually(async () => {
          const st = await invokeStatus(node, "slow");
          return st.instances.find((i) => i.id === s1!.id)?.breaker === "closed";
        }, 15_000, 50);
        await eventually(async () => (await s1!.served()) > servedBefore + 20, 10_000, 100);
        await loop.stop();
        expect(loop.failures).toEqual([]);
        expect(new Set(loop.answers.map((x) => x.id))).toEqual(new Set([s1!.id, s2!.id, s3!.id]));
        const text = await (await fetch(`${node.url}/metrics`)).text();
        expect(text).toMatch(new RegExp(`corral_invoke_requests_total\\{service="slow",instance="${s1!.id}@[^"]+",code="timeout"\\} [1-9]`));
        expect(text).toMatch(new RegExp(`corral_invoke_ejections_total\\{service="slow",instance="${s1!.id}@[^"]+"\\} [1-9]`));
      }, 60_000);

      test("with every instance failing, retries stay within the retry budget", async () => {
        const list = await service("broken", ["1", "2", "3"]);
        for (const b of list) await b.control("fail=503");
        const calls = 300;
        let next = 0;
        const statuses: number[] = [];
        await Promise.all(Array.from({ length: 6 }, async () => {
          while (next < calls) {
            next++;
            const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: "broken" } });
            await r.text();
            statuses.push(r.status);
          }
        }));
        expect(statuses.every((s) => s === 503)).toBe(true);
        const attempts = (await Promise.all(list.map((b) => b.served()))).reduce((x, y) => x + y, 0);
        const extra = attempts - calls;
        // 20% of the window's calls plus 1/s over the 10 s window; max_retries alone would allow 2 per call.
        expect(extra).toBeGreaterThan(0);
        expect(extra).toBeLessThanOrEqual(calls * 0.2 + 10);
        const st = await invokeStatus(node, "broken");
        expect(st.budget!.exhausted).toBeGreaterThan(0);
        const text = await (await fetch(`${node.url}/metrics`)).text();
        expect(text).toMatch(/corral_invoke_retry_budget_exhausted_total\{service="broken"\} [1-9]/);
      }, 60_000);

      test("X-Corral-Timeout bounds a whole call: 504 JSON", async () => {
        const [t] = await service("tardy", ["1"]);
        await t!.control("slow=3000");
        const started = Date.now();
        const r = await getJson(`http://127.0.0.1:${port}/`, { headers: { host: "tardy", "x-corral-timeout": "400ms" } });
        const took = Date.now() - started;
        expect(r.status).toBe(504);
        expect(r.body.code).toBe("UPSTREAM_TIMEOUT");
        expect(took).toBeLessThan(2000);
      }, 30_000);
    });
  });
}
