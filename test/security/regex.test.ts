// Regular expressions from users never backtrack on a node's event loop.
// A job writer puts a catastrophic pattern in a constraint — `(a+)+$`
// against "aaaa…a!" (a literal attribute, so no node needs to carry it) —
// and submits it to a real dev node. Bun's RegExp (JavaScriptCore) gives up
// such a match after about a second of backtracking (and answers "no match",
// right or wrong); one per group and node, so a job of 30 groups froze the
// leader for half a minute. With RE2 the node keeps answering /v1/healthz
// promptly and the evaluation gets its answer (no node matches: the
// attribute does not end in "a").
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startCorral, killAll, getJson, eventually, type CorralProcess } from "../helpers/proc.ts";

let dev: CorralProcess;

beforeAll(async () => {
  dev = await startCorral({ role: "dev", config: `[plugins]\nenabled = ["probe"]\nwatch = false\n` });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 15_000);
}, 30_000);

afterAll(() => killAll());

/** ms /v1/healthz takes to answer, or Infinity past `limitMs`. */
async function healthzMs(limitMs: number): Promise<number> {
  const t0 = performance.now();
  try {
    const r = await fetch(dev.url + "/v1/healthz", { signal: AbortSignal.timeout(limitMs) });
    await r.text();
    return r.ok ? performance.now() - t0 : Infinity;
  } catch {
    return Infinity;
  }
}

test("a catastrophic constraint regexp does not freeze the leader; the job gets its placement answer", async () => {
  const job = {
    id: "redos",
    type: "batch",
    // Constraint verdicts are cached per group and node: one slow match per group.
    groups: Array.from({ length: 30 }, (_, i) => ({
      name: `g${i}`,
      constraints: [{ attribute: "a".repeat(64 + i) + "!", operator: "regexp", value: "(a+)+$" }],
      tasks: [{ name: "t", command: "true" }],
    })),
  };
  const reg = await getJson(dev.url + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(10_000) });
  expect(reg.status).toBe(200);
  // The scheduler runs right after the registration: the node must keep answering meanwhile.
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    times.push(await healthzMs(5_000));
    await Bun.sleep(100);
  }
  expect(Math.max(...times)).toBeLessThan(5_000);
  const ev = await eventually(async () => {
    const e = (await getJson(`${dev.url}/v1/evaluation/${reg.body.evalId}`, { signal: AbortSignal.timeout(5_000) })).body;
    return e.status !== "pending" && e;
  }, 15_000, 200);
  expect(ev.failedGroups).toHaveLength(30);
  expect(Object.keys(ev.failedGroups[0].metrics.reasons)[0]).toContain("regexp (a+)+$");
  expect(ev.status).not.toBe("pending");
}, 60_000);

test("constraint regexps are RE2: an invalid or oversized pattern is a 400 with the key path", async () => {
  const doc = (value: string) => JSON.stringify({ id: "bad", groups: [{ name: "g", constraints: [{ attribute: "${node.name}", operator: "regexp", value }], tasks: [{ name: "t", command: "true" }] }] });
  for (const value of ["((", "(?=a)b", "x{1000}{1000}"]) {
    const r = await getJson(dev.url + "/v1/jobs", { method: "POST", body: doc(value), headers: { "content-type": "application/json" } });
    expect(r.status, value).toBe(400);
    expect(r.body.code).toBe("INVALID_JOB");
    expect(r.body.errors[0].path).toBe("groups[0].constraints[0].value");
  }
});
