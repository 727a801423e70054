// Exec's check runner (plugins.exec.run_checks) probes with the health
// plugin's own http and tcp probes, published through core/sdk (issue 19,
// point 5): a job check answers as the same check registered with the
// health plugin does, Consul's way: Output carries a body excerpt, and a
// redirect is followed (it used to be the 3xx itself, critical, with no
// body). A real HTTP target and real loopback sockets.
import { afterAll, describe, expect, test } from "bun:test";
import { JobServices } from "../../plugins/exec/services.ts";
import { httpInit, httpProbe, DEFAULT_OUTPUT_MAX_BYTES, type HttpProbeSpec } from "../../core/sdk/index.ts";
import { silentLogger } from "../../core/log.ts";
import type { NodeAlloc } from "../../plugins/exec/alloc-runner.ts";
import { job } from "../jobs/fixtures.ts";
import { eventually } from "../helpers/proc.ts";

const target = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/moved") return new Response(null, { status: 302, headers: { location: "/here" } });
    if (path === "/here") return new Response("hello from here");
    return new Response("not here", { status: 404 });
  },
});
const api = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(null, { status: 200 }) });
afterAll(() => {
  target.stop(true);
  api.stop(true);
});

type Result = { checkId: string; status: string; output: string };

describe("exec's job checks use the health plugin's probes", () => {
  test("http: redirects followed and a body excerpt in Output, exactly as health's probe answers; tcp: Consul's text", async () => {
    const j = job({
      id: "web", groups: [{ name: "g", tasks: [{ name: "srv", command: "/bin/x", ports: { http: {} },
        service: { name: "web", port: "http", checks: [
          { type: "http", path: "/moved", interval: "10s", timeout: "2s" },
          { type: "http", path: "/missing", interval: "10s", timeout: "2s" },
          { type: "tcp", interval: "10s", timeout: "2s" },
        ] } }] }],
    });
    const alloc = { id: "a1", namespace: "default", jobId: "web", jobType: "service", groupName: "g", taskGroupIndex: 0, nodeId: "n", desiredStatus: "run", desiredDescription: "", clientStatus: "running", groupSpec: j.groups[0]!, ports: [{ task: "srv", label: "http", value: target.port, static: false }] } as NodeAlloc;
    const published: Result[] = [];
    const services = new JobServices({
      apiUrl: () => `http://127.0.0.1:${api.port}`, token: () => undefined, host: "127.0.0.1",
      runChecks: () => true, publish: (_t, p) => published.push(p as Result), log: silentLogger,
    });
    try {
      await services.register(alloc, "srv");
      await eventually(() => published.length >= 3, 5_000, 20);
    } finally {
      services.stop();
    }
    const byId = (i: number) => published.find((p) => p.checkId === `_corral-task-a1-srv:${i}`)!;
    const url = `http://127.0.0.1:${target.port}/moved`;
    expect(byId(0)).toEqual({ checkId: "_corral-task-a1-srv:0", status: "passing", output: `HTTP GET ${url}: 200 OK Output: hello from here` });
    // The same check, run by the health plugin's probe.
    const spec: HttpProbeSpec = { kind: "http", url, method: "GET", headers: [], tlsSkipVerify: false };
    expect(await httpProbe(spec, httpInit(spec), 2_000, DEFAULT_OUTPUT_MAX_BYTES)).toEqual({ status: byId(0).status, output: byId(0).output } as never);
    expect(byId(1)).toMatchObject({ status: "critical", output: `HTTP GET http://127.0.0.1:${target.port}/missing: 404 Not Found Output: not here` });
    expect(byId(2)).toMatchObject({ status: "passing", output: `TCP connect 127.0.0.1:${target.port}: Success` });
  });
});
