// Only status changes go through the log: 1,000 passing http checks at a 1 s
// interval against a local target, once settled, move no Raft index for
// ~5 s — while about 5,000 probes run and anti-entropy compares digests
// every second.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, getJson, eventually, sleep, type CorralProcess } from "../helpers/proc.ts";
import { commitIndex, httpTarget, type HttpTarget } from "./targets.ts";

const SERVICES = 100;
const CHECKS_PER_SERVICE = 10;

let p: CorralProcess;
let target: HttpTarget;
beforeAll(async () => {
  target = httpTarget("steady");
  p = await startCorral({ role: "dev", config: `[plugins.discovery]\nsync_interval = "1s"\n` });
});
afterAll(async () => {
  target.stop();
  await killAll();
});

describe("1,000 checks, no log growth", () => {
  test("once every check passes, commitIndex stays put for 5 s while the checks keep running", async () => {
    for (let s = 0; s < SERVICES; s++) {
      const checks = Array.from({ length: CHECKS_PER_SERVICE }, (_, i) => ({ HTTP: target.url(`/q${i}`), Interval: "1s" }));
      const r = await fetch(`${p.url}/v1/agent/service/register`, { method: "PUT", body: JSON.stringify({ Name: `quiet-${s}`, Checks: checks }), headers: { "content-type": "application/json" } });
      expect(r.status).toBe(200);
    }
    const passing = async () => {
      const list = (await getJson<{ ServiceName: string }[]>(`${p.url}/v1/health/state/passing`)).body;
      return list.filter((c) => c.ServiceName.startsWith("quiet-")).length;
    };
    await eventually(async () => (await passing()) === SERVICES * CHECKS_PER_SERVICE, 30_000, 250);
    await sleep(1_500); // the last transitions are applied and a full sync has compared digests

    const hits = () => Array.from({ length: CHECKS_PER_SERVICE }, (_, i) => target.hits(`/q${i}`)).reduce((a, b) => a + b, 0);
    const before = { index: await commitIndex(p.url), hits: hits() };
    await sleep(5_000);
    const after = { index: await commitIndex(p.url), hits: hits() };
    expect(after.index).toBe(before.index);
    // The checks did run: ~1,000 probes a second.
    expect(after.hits - before.hits).toBeGreaterThan(4_000);
    expect(after.hits - before.hits).toBeLessThan(6_500);
  }, 90_000);
});
