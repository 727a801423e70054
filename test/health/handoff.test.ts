// The hand-off between plugins over the node's bus: the exec driver's
// stopgap check runner (plugins.exec.run_checks = "auto") steps aside while
// the health plugin is enabled and takes over when it is disabled; the
// commented [plugins.health] block of config.example.toml holds the defaults.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { JobServices } from "../../plugins/exec/services.ts";
import { healthConfigSchema } from "../../plugins/health/config.ts";
import { parseHealthState } from "../../plugins/health/topics.ts";
import { silentLogger } from "../../core/log.ts";
import type { NodeAlloc } from "../../plugins/exec/alloc-runner.ts";
import { job } from "../jobs/fixtures.ts";
import { eventually, sleep } from "../helpers/proc.ts";
import { httpTarget } from "./targets.ts";

const target = httpTarget();
// A stand-in for the node's agent API: accepts the registration.
const api = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(null, { status: 200 }) });
afterAll(() => {
  target.stop();
  api.stop(true);
});

describe("exec's stopgap check runner", () => {
  test('"auto": runs while health is off, stops when health announces itself, resumes when it leaves', async () => {
    const j = job({
      id: "web", groups: [{ name: "g", tasks: [{ name: "srv", command: "/bin/x", ports: { http: {} },
        service: { name: "web", port: "http", checks: [{ type: "http", path: "/stopgap", interval: "100ms", timeout: "1s" }] } }] }],
    });
    const alloc = { id: "a1", namespace: "default", jobId: "web", jobType: "service", groupName: "g", taskGroupIndex: 0, nodeId: "n", desiredStatus: "run", desiredDescription: "", clientStatus: "running", groupSpec: j.groups[0]!, ports: [{ task: "srv", label: "http", value: target.port, static: false }] } as NodeAlloc;
    let healthOn = false;
    const published: unknown[] = [];
    const services = new JobServices({
      apiUrl: () => `http://127.0.0.1:${api.port}`, token: () => undefined, host: "127.0.0.1",
      runChecks: () => !healthOn, publish: (_t, p) => published.push(p), log: silentLogger,
    });
    await services.register(alloc, "srv");
    await eventually(() => target.hits("/stopgap") >= 2, 3_000, 20);
    expect(published[0]).toMatchObject({ checkId: "_corral-task-a1-srv:0", status: "passing" });

    healthOn = parseHealthState({ enabled: true, execChecks: false }).enabled;
    services.refreshChecks();
    await sleep(150);
    const stopped = target.hits("/stopgap");
    await sleep(400);
    expect(target.hits("/stopgap")).toBe(stopped);

    healthOn = parseHealthState({ enabled: false }).enabled;
    services.refreshChecks();
    await eventually(() => target.hits("/stopgap") >= stopped + 2, 3_000, 20);
    services.stop();
  });

  test("health.state payloads: exec checks only count while enabled", () => {
    expect(parseHealthState(undefined)).toEqual({ enabled: false, execChecks: false });
    expect(parseHealthState({ enabled: false, execChecks: true })).toEqual({ enabled: false, execChecks: false });
    expect(parseHealthState({ enabled: true, execChecks: true })).toEqual({ enabled: true, execChecks: true });
  });
});

describe("config.example.toml", () => {
  test("the commented [plugins.health] block holds the defaults", () => {
    const text = readFileSync(join(import.meta.dir, "..", "..", "config.example.toml"), "utf8");
    const rest = text.slice(text.indexOf("# [plugins.health]")).split("\n").slice(1);
    const end = rest.findIndex((l) => /^# \[plugins\./.test(l));
    const block = (end < 0 ? rest : rest.slice(0, end)).filter((l) => /^# [a-z_]+ = /.test(l)).map((l) => l.slice(2)).join("\n");
    expect(healthConfigSchema.parse(parse(block))).toEqual(healthConfigSchema.parse({}));
    expect(Object.keys(parse(block)).sort()).toEqual(Object.keys(healthConfigSchema.parse({})).sort());
    expect(healthConfigSchema.parse({})).toEqual({
      enable_exec_checks: false, exec_check_user: "nobody", max_concurrent: 256, min_interval: 1000, output_max_size: 4096, output_update_interval: 300_000,
    });
    expect(healthConfigSchema.safeParse({ output_max_size: 5000 }).success).toBe(false);
    expect(healthConfigSchema.safeParse({ enable_exec_check: true }).success).toBe(false);
  });
});
