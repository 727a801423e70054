import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseJobSpec } from "../../core/scheduler/jobspec.ts";
import { parseDurationMs } from "../../core/scheduler/jobspec/duration.ts";

const docs = readFileSync(join(import.meta.dir, "../../docs/jobs.md"), "utf8");
function fenced(lang: string): string[] {
  return [...docs.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

function errorsOf(text: string, format: "toml" | "json" = "toml") {
  const r = parseJobSpec(text, format);
  if (r.ok) throw new Error("expected errors");
  return r.errors;
}

const minimal = `
id = "web"
[[groups]]
name = "g"
[[groups.tasks]]
name = "t"
command = "/bin/true"
`;

describe("parseJobSpec: valid documents", () => {
  test("the TOML example in docs/jobs.md parses and normalizes", () => {
    // By its id, not its position: the page opens with `job init`'s example.
    const shop = fenced("toml").find((t) => /^id = "shop"$/m.test(t));
    const r = parseJobSpec(shop!, "toml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const { job } = r;
    expect(job.namespace).toBe("retail");
    expect(job.priority).toBe(70);
    const web = job.groups[0]!;
    expect(web.count).toBe(6);
    expect(web.constraints.map((c) => c.operator)).toEqual(["version", "regexp", "distinct_hosts"]);
    expect(web.spread[0]!.targets).toEqual([{ value: "eu-1a", percent: 50 }, { value: "eu-1b", percent: 30 }]);
    expect(web.restart).toEqual({ attempts: 3, intervalMs: 300_000, delayMs: 10_000, mode: "delay" });
    expect(web.update).toEqual({ maxParallel: 2, minHealthyTimeMs: 15_000, healthyDeadlineMs: 180_000, autoRevert: true });
    const server = web.tasks[0]!;
    expect(server.resources).toEqual({ cpuMhz: 500, memoryMb: 256 });
    expect(server.ports).toEqual({ http: {}, metrics: { static: 9102 } });
    expect(server.env).toEqual({ LOG_LEVEL: "info", WORKERS: "4" });
    expect(server.service?.checks[0]).toMatchObject({ type: "http", path: "/healthz", intervalMs: 10_000, timeoutMs: 2_000 });
    expect(job.groups[1]!.tasks[0]!.service?.checks[0]).toMatchObject({ type: "ttl", ttlMs: 60_000 });
  });

  test("the JSON example in docs/jobs.md parses, with batch defaults", () => {
    const r = parseJobSpec(fenced("json")[1]!, "json");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.job.type).toBe("batch");
    const g = r.job.groups[0]!;
    expect(g.reschedule).toEqual({ attempts: 2, intervalMs: 3_600_000, delayMs: 60_000, unlimited: false });
    expect(g.restart.intervalMs).toBe(24 * 3_600_000); // batch default kept for the unset key
  });

  test("defaults fill a minimal job", () => {
    const r = parseJobSpec(minimal, "toml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.job).toMatchObject({ id: "web", namespace: "default", type: "service", priority: 50, constraints: [] });
    const g = r.job.groups[0]!;
    expect(g.count).toBe(1);
    expect(g.reschedule.unlimited).toBe(true);
    expect(g.tasks[0]).toMatchObject({ driver: "exec", args: [], env: {}, resources: { cpuMhz: 100, memoryMb: 300 }, ports: {} });
  });
});

describe("parseJobSpec: errors carry key paths", () => {
  test("type, range and unknown-key errors are all reported", () => {
    const errors = errorsOf(`
id = "web"
priority = 101
colour = "red"
[[groups]]
name = "g"
count = -1
[[groups.tasks]]
name = "t"
command = "/bin/true"
resources = { cpu = "lots", memory = 0 }
`);
    expect(errors).toContainEqual({ path: "priority", message: "must be at most 100" });
    expect(errors).toContainEqual({ path: "colour", message: "unknown key" });
    expect(errors).toContainEqual({ path: "groups[0].count", message: "must be at least 0" });
    expect(errors.find((e) => e.path === "groups[0].tasks[0].resources.cpu")?.message).toMatch(/expected number/);
    expect(errors).toContainEqual({ path: "groups[0].tasks[0].resources.memory", message: "must be at least 1" });
  });

  test("missing required keys", () => {
    const errors = errorsOf(JSON.stringify({ groups: [{ tasks: [{}] }] }), "json");
    expect(errors.map((e) => e.path).sort()).toEqual(["groups[0].name", "groups[0].tasks[0].command", "groups[0].tasks[0].name", "id"]);
    expect(errors.every((e) => e.message === "required")).toBe(true);
  });

  test("constraint problems", () => {
    const errors = errorsOf(JSON.stringify({
      id: "j",
      groups: [{
        name: "g",
        constraints: [
          { attribute: "${attr.os.name}", operator: "regexp", value: "((" },
          { attribute: "${attr.kernel.version}", operator: "version", value: ">= banana" },
          { attribute: "${node.colour}", value: "x" },
          { attribute: "${attr.os.name}", operator: "like", value: "x" },
          { operator: "=" , value: "x" },
        ],
        tasks: [{ name: "t", command: "c" }],
      }],
    }), "json");
    const at = (i: number, k: string) => errors.find((e) => e.path === `groups[0].constraints[${i}].${k}`)?.message;
    expect(at(0, "value")).toMatch(/invalid regular expression/);
    expect(at(1, "value")).toMatch(/not a version comparison/);
    expect(at(2, "attribute")).toMatch(/unknown node field "colour"/);
    expect(at(3, "operator")).toBeDefined();
    expect(at(4, "attribute")).toMatch(/required/);
  });

  test("durations, duplicates, ports, services and checks", () => {
    const errors = errorsOf(`
id = "j"
[[groups]]
name = "g"
  [groups.update]
  min_healthy_time = "10m"
  healthy_deadline = "5m"
  [[groups.spread]]
  attribute = "\${meta.rack}"
  targets = [{ value = "a", percent = 70 }, { value = "b", percent = 40 }]
  [[groups.tasks]]
  name = "t"
  command = "c"
  ports = { http = { static = 8080 } }
    [groups.tasks.service]
    port = "htp"
    [[groups.tasks.service.checks]]
    type = "http"
    interval = "10 seconds"
  [[groups.tasks]]
  name = "t"
  command = "c"
  ports = { admin = { static = 8080 } }
[[groups]]
name = "g"
[[groups.tasks]]
name = "x"
command = "c"
`);
    const paths = Object.fromEntries(errors.map((e) => [e.path, e.message]));
    expect(paths["groups[0].update.min_healthy_time"]).toBe("must be shorter than healthy_deadline");
    expect(paths["groups[0].spread[0].targets"]).toMatch(/add up to 110/);
    expect(paths["groups[0].tasks[0].service.port"]).toMatch(/no port labelled "htp"/);
    expect(paths["groups[0].tasks[0].service.checks[0].interval"]).toMatch(/not a duration/);
    expect(paths["groups[0].tasks[0].service.checks[0].path"]).toBe("required for http checks");
    expect(paths["groups[0].tasks[1].name"]).toMatch(/duplicate task name "t"/);
    expect(paths["groups[0].tasks[1].ports.admin.static"]).toMatch(/static port 8080 is already used/);
    expect(paths["groups[1].name"]).toMatch(/duplicate group name "g"/);
  });

  test("syntax errors point at the document", () => {
    expect(errorsOf("id = = 1")[0]!.message).toMatch(/^TOML syntax error at line 1/);
    expect(errorsOf("{", "json")[0]).toMatchObject({ path: "" });
    expect(errorsOf("{", "json")[0]!.message).toMatch(/^JSON syntax error/);
  });
});

describe("durations", () => {
  test("Go-style strings to milliseconds", () => {
    expect(parseDurationMs("10s")).toBe(10_000);
    expect(parseDurationMs("1m30s")).toBe(90_000);
    expect(parseDurationMs("1.5h")).toBe(5_400_000);
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("0")).toBe(0);
    for (const bad of ["", "10", "-1s", "1d", "s", "1s2"]) expect(parseDurationMs(bad)).toBeNull();
  });
});
