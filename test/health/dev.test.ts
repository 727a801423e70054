// The health plugin on real dev processes, against real targets the test
// flips: http (thresholds counted from the log, 429, body excerpts, method,
// headers and body), tcp, TTL beside http, DeregisterCriticalServiceAfter,
// and the plugin's lifecycle. Exec checks and the log-growth test are in
// exec.test.ts and quiet.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, getJson, eventually, sleep, type CorralProcess } from "../helpers/proc.ts";
import { checkOf, checkTransitions, httpTarget, tcpTarget, type HttpTarget } from "./targets.ts";

let p: CorralProcess;
let target: HttpTarget;
beforeAll(async () => {
  target = httpTarget();
  p = await startCorral({
    role: "dev",
    config: `[plugins.discovery]\nsync_interval = "1s"\n\n[plugins.health]\nmin_interval = "50ms"\noutput_max_size = 200\n`,
  });
});
afterAll(async () => {
  target.stop();
  await killAll();
});

const put = (path: string, body?: unknown) => fetch(p.url + path, { method: "PUT", body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
async function register(body: unknown) {
  const r = await put("/v1/agent/service/register", body);
  expect(r.status, await r.clone().text()).toBe(200);
}
const status = async (service: string, id: string) => (await checkOf(p.url, service, id))?.Status;

describe("http checks", () => {
  test("SuccessBeforePassing 3 / FailuresBeforeCritical 2: exactly the transitions the counts allow reach the log", async () => {
    const log = await checkTransitions(p.url);
    // From critical: 2 successes (too few), a failure resets; 3 successes → passing; 1 failure (too few), a
    // success resets; 2 failures → critical; 3 successes → passing, then steady.
    target.script("/scripted", ["ok", "ok", "fail", "ok", "ok", "ok", "fail", "ok", "fail", "fail", "ok", "ok", "ok"]);
    await register({ Name: "scripted", Check: { CheckID: "scripted", HTTP: target.url("/scripted"), Interval: "100ms", SuccessBeforePassing: 3, FailuresBeforeCritical: 2 } });
    await eventually(() => target.hits("/scripted") >= 16, 15_000);
    await sleep(300);
    expect(log.of("scripted")).toEqual(["passing", "critical", "passing"]);
    await log.stream.cancel();
    await put("/v1/agent/service/deregister/scripted");
  }, 30_000);

  test("a flipped target: the status follows within FailuresBeforeCritical intervals and comes back", async () => {
    target.set("/flip", "ok");
    await register({ Name: "flip", Check: { CheckID: "flip", HTTP: target.url("/flip"), Interval: "100ms", FailuresBeforeCritical: 3 } });
    await eventually(async () => (await status("flip", "flip")) === "passing", 5_000, 50);
    target.set("/flip", "fail");
    const from = target.hits("/flip");
    await eventually(async () => (await status("flip", "flip")) === "critical", 5_000, 20);
    // Three failures were needed (a probe or two more may have run while we polled).
    expect(target.hits("/flip") - from).toBeGreaterThanOrEqual(3);
    target.set("/flip", "ok");
    await eventually(async () => (await status("flip", "flip")) === "passing", 5_000, 50);
    await put("/v1/agent/service/deregister/flip");
  }, 20_000);

  test("429 is warning; Output is the status line and a body excerpt; Method, Header and Body are sent", async () => {
    target.set("/busy", "429");
    await register({
      Name: "busy",
      Check: { CheckID: "busy", HTTP: target.url("/busy"), Interval: "100ms", Method: "POST", Header: { "X-Probe": ["yes"] }, Body: "ping" },
    });
    const c = await eventually(async () => {
      const x = await checkOf(p.url, "busy", "busy");
      return x?.Status === "warning" && x;
    }, 5_000, 50);
    expect(c.Output).toStartWith(`HTTP POST ${target.url("/busy")}: 429 Too Many Requests Output: slow down xxx`);
    // output_max_size = 200: the excerpt is the first 200 bytes of the body.
    expect(c.Output.length).toBe(`HTTP POST ${target.url("/busy")}: 429 Too Many Requests Output: `.length + 200);
    const req = target.last("/busy")!;
    expect(req).toMatchObject({ method: "POST", body: "ping", ua: "Consul Health Check" });
    expect(req.headers.get("x-probe")).toBe("yes");
    target.set("/busy", "ok");
    const ok = await eventually(async () => {
      const x = await checkOf(p.url, "busy", "busy");
      return x?.Status === "passing" && x;
    }, 5_000, 50);
    expect(ok.Output).toBe(`HTTP POST ${target.url("/busy")}: 200 OK Output: ok`);
    await put("/v1/agent/service/deregister/busy");
  }, 20_000);

  test("a probe past its Timeout is critical", async () => {
    target.set("/slow", "slow");
    await register({ Name: "slow", Check: { CheckID: "slow", HTTP: target.url("/slow"), Interval: "200ms", Timeout: "100ms", Status: "passing" } });
    const c = await eventually(async () => {
      const x = await checkOf(p.url, "slow", "slow");
      return x?.Status === "critical" && x;
    }, 5_000, 50);
    expect(c.Output).toContain("timed out after 100ms");
    await put("/v1/agent/service/deregister/slow");
  }, 15_000);
});

describe("tcp checks", () => {
  test("connect passes; a closed listener is critical; reopened passes again", async () => {
    const t = await tcpTarget();
    await register({ Name: "tcp", Check: { CheckID: "tcp", TCP: `127.0.0.1:${t.port}`, Interval: "100ms", Timeout: "500ms" } });
    const up = await eventually(async () => {
      const x = await checkOf(p.url, "tcp", "tcp");
      return x?.Status === "passing" && x;
    }, 5_000, 50);
    expect(up.Output).toBe(`TCP connect 127.0.0.1:${t.port}: Success`);
    await t.close();
    await eventually(async () => (await status("tcp", "tcp")) === "critical", 5_000, 50);
    await t.open();
    await eventually(async () => (await status("tcp", "tcp")) === "passing", 5_000, 50);
    await t.close();
    await put("/v1/agent/service/deregister/tcp");
  }, 20_000);
});

describe("with the discovery plugin's own checks", () => {
  test("TTL expiry still works beside an http check of the same service", async () => {
    target.set("/both", "ok");
    await register({
      Name: "both",
      Checks: [
        { CheckID: "both-http", HTTP: target.url("/both"), Interval: "100ms" },
        { CheckID: "both-ttl", TTL: "500ms", Status: "passing" },
      ],
    });
    await eventually(async () => (await status("both", "both-http")) === "passing", 5_000, 50);
    const ttl = await eventually(async () => {
      const x = await checkOf(p.url, "both", "both-ttl");
      return x?.Status === "critical" && x;
    }, 5_000, 50);
    expect(ttl.Output).toBe("TTL expired");
    expect(await status("both", "both-http")).toBe("passing");
    expect((await put("/v1/agent/check/pass/both-ttl")).status).toBe(200);
    expect(await status("both", "both-ttl")).toBe("passing");
    // The health plugin never touches a TTL check, and TTL updates are refused for http checks.
    expect((await put("/v1/agent/check/pass/both-http")).status).toBe(500);
    await put("/v1/agent/service/deregister/both");
  }, 15_000);

  test("DeregisterCriticalServiceAfter: the owning node deregisters a service whose check stays critical", async () => {
    target.set("/reap", "ok");
    await register({ Name: "reap", Check: { CheckID: "reap", HTTP: target.url("/reap"), Interval: "100ms", DeregisterCriticalServiceAfter: "300ms" } });
    await eventually(async () => (await status("reap", "reap")) === "passing", 5_000, 50);
    await sleep(1_000);
    expect((await getJson(p.url + "/v1/agent/services")).body.reap).toBeDefined(); // passing: kept
    target.set("/reap", "fail");
    await eventually(async () => (await getJson<unknown[]>(p.url + "/v1/catalog/service/reap")).body.length === 0, 10_000, 100);
    expect((await getJson(p.url + "/v1/agent/services")).body.reap).toBeUndefined();
    // Its checks are gone from the runner too: no more probes.
    await sleep(300);
    const hits = target.hits("/reap");
    await sleep(500);
    expect(target.hits("/reap")).toBe(hits);
  }, 20_000);
});

describe("plugin lifecycle", () => {
  test("disabled: probes stop (checks keep their last status); enabled: they resume", async () => {
    target.set("/life", "ok");
    await register({ Name: "life", Check: { CheckID: "life", HTTP: target.url("/life"), Interval: "100ms" } });
    await eventually(async () => (await status("life", "life")) === "passing", 5_000, 50);
    const toggle = (enabled: boolean) =>
      getJson(p.url + "/v1/plugins/health", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled }) });
    expect((await toggle(false)).body.state).toBe("disabled");
    await sleep(200);
    const hits = target.hits("/life");
    await sleep(500);
    expect(target.hits("/life")).toBe(hits);
    // With health off, Args checks are refused, pointing at the key that allows them.
    const refused = await put("/v1/agent/service/register", { Name: "x", Check: { Args: ["true"], Interval: "1s" } });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("plugins.health.enable_exec_checks = true");
    expect((await toggle(true)).body.state).toBe("enabled");
    await eventually(() => target.hits("/life") > hits + 2, 5_000, 50);
    expect(await status("life", "life")).toBe("passing");
    await put("/v1/agent/service/deregister/life");
  }, 20_000);
});
