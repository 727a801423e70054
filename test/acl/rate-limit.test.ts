// Rate limits: the pure token buckets, then a node with a small per-address
// and per-token limit: 429 with Retry-After, /v1/healthz exempt, separate
// budgets per token.
import { afterAll, describe, expect, test } from "bun:test";
import { TokenBuckets } from "../../core/http/token-bucket.ts";
import { killAll, startCorral, getJson } from "../helpers/proc.ts";

afterAll(() => killAll());

describe("token buckets", () => {
  test("a burst, then the rate; Retry-After is the time to one token", () => {
    const b = new TokenBuckets(2, 3);
    for (let i = 0; i < 3; i++) expect(b.take("k", 0).ok).toBe(true);
    const refused = b.take("k", 0);
    expect(refused).toEqual({ ok: false, retryAfterMs: 500 });
    expect(b.take("k", 499).ok).toBe(false);
    expect(b.take("k", 1000).ok).toBe(true); // 1 s at 2/s refilled 2, minus the one just taken
    expect(b.take("other", 0).ok).toBe(true); // keys are separate
  });

  test("refill stops at the burst; time going backwards adds nothing", () => {
    const b = new TokenBuckets(1, 2);
    b.take("k", 0);
    b.take("k", 0);
    expect(b.take("k", 1_000_000).ok).toBe(true);
    expect(b.take("k", 1_000_000).ok).toBe(true);
    expect(b.take("k", 1_000_000).ok).toBe(false);
    expect(b.take("k", 0).ok).toBe(false);
  });

  test("memory is bounded: the least recently used key is forgotten", () => {
    const b = new TokenBuckets(1, 1, 3);
    for (const k of ["a", "b", "c"]) b.take(k, 0);
    b.take("a", 0); // a is now the most recent
    b.take("d", 0);
    expect(b.size()).toBe(3);
    expect(b.take("b", 0).ok).toBe(true); // b was dropped: back full
    expect(b.take("a", 0).ok).toBe(false); // a kept its empty bucket
  });

  test("bad settings are refused", () => {
    expect(() => new TokenBuckets(0, 1)).toThrow();
    expect(() => new TokenBuckets(1, 0)).toThrow();
  });
});

describe("rate-limited node", () => {
  test("per address: 429 with Retry-After past the burst; healthz and peer RPC exempt", async () => {
    const node = await startCorral({ role: "dev", config: "[http]\nrate_limit_per_address = 2\nrate_limit_burst = 5\n" });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    let body: unknown;
    for (let i = 0; i < 12; i++) {
      const r = await getJson(node.url + "/v1/nodes");
      statuses.push(r.status);
      if (r.status === 429) ({ body } = r), (retryAfter = r.headers.get("retry-after"));
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === 200).length).toBeLessThan(9);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(body).toEqual({ error: "rate limit exceeded; retry later", code: "RATE_LIMITED" });
    const kv = await getJson(node.url + "/v1/kv/x");
    expect(kv.status).toBe(429);
    expect(kv.headers.get("content-type")).toContain("text/plain"); // Consul routes answer text
    for (let i = 0; i < 20; i++) expect((await getJson(node.url + "/v1/healthz")).status).toBe(200);
    const peer = await getJson(node.url + "/v1/raft/message", { method: "POST", body: "{}" });
    expect(peer.status).toBe(401); // refused by the signature check, not the limiter
    await node.kill();
  });

  test("per token: each token has its own budget", async () => {
    const node = await startCorral({ role: "dev", config: "[http]\nrate_limit_per_token = 1\nrate_limit_burst = 3\n" });
    const send = (token: string) => getJson(node.url + "/v1/nodes", { headers: { "X-Consul-Token": token } });
    const a = [];
    for (let i = 0; i < 5; i++) a.push((await send("token-a")).status);
    expect(a.slice(0, 3)).toEqual([200, 200, 200]);
    expect(a.slice(3)).toEqual([429, 429]);
    expect((await send("token-b")).status).toBe(200);
    expect((await getJson(node.url + "/v1/nodes")).status).toBe(200); // no token: the address limit (off) applies
    await node.kill();
  });
});
