// Task interpolation (core/scheduler/interpolate.ts): parsing, escapes,
// aliases, unknown variables at submission with their key paths, and the
// node's values at start.
import { describe, expect, test } from "bun:test";
import { canonicalName, interpolate, parseTemplate, resolveTask, type Scope } from "../../core/scheduler/interpolate.ts";
import { validateJob } from "../../core/scheduler/jobspec.ts";
import { taskEnv } from "../../plugins/exec/env.ts";
import type { Task } from "../../core/scheduler/index.ts";

const scope: Scope = {
  env: { CORRAL_PORT_HTTP: "25001", CORRAL_IP_HTTP: "10.0.0.7", CORRAL_ADDR_HTTP: "10.0.0.7:25001", CORRAL_ALLOC_ID: "a-1", CORRAL_ALLOC_INDEX: "2", CORRAL_JOB_ID: "web", HOME: "/home/t", GREETING: "hi" },
  node: { id: "n-1", name: "agent-1", datacenter: "dc2", attributes: { "cpu.arch": "x86_64", "os.name": "debian" }, meta: { rack: "r1" } },
  portLabels: ["http"],
};
const value = (text: string) => {
  const r = interpolate(text, scope);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe("parseTemplate", () => {
  test("literal text, references and lone dollars", () => {
    expect(parseTemplate("a ${x} $b $ c")).toEqual({ ok: true, parts: [{ text: "a " }, { ref: "x" }, { text: " $b $ c" }] });
  });
  test("$${ is a literal ${ and is not read as a reference", () => {
    expect(parseTemplate("$${HOME} and ${HOME}")).toEqual({ ok: true, parts: [{ text: "${HOME} and " }, { ref: "HOME" }] });
    expect(value("cost: $${price}")).toBe("cost: ${price}");
  });
  test("malformed references are errors that say what is wrong", () => {
    expect(parseTemplate("port ${CORRAL_PORT_http")).toMatchObject({ ok: false, error: expect.stringContaining("unterminated") });
    expect(parseTemplate("${a${b}}")).toMatchObject({ ok: false, error: expect.stringContaining("nested") });
    expect(parseTemplate("${}")).toMatchObject({ ok: false, error: expect.stringContaining("empty") });
    expect(parseTemplate("${a b}")).toMatchObject({ ok: false, error: expect.stringContaining("not a variable name") });
    expect(parseTemplate("${$(id)}")).toMatchObject({ ok: false });
  });
});

describe("interpolate", () => {
  test("allocation facts, ports by the job's label or the env spelling", () => {
    expect(value("--port=${CORRAL_PORT_http}")).toBe("--port=25001");
    expect(value("${CORRAL_PORT_HTTP}")).toBe("25001");
    expect(value("${CORRAL_IP_http}:${CORRAL_PORT_http}")).toBe("10.0.0.7:25001");
    expect(value("${CORRAL_ADDR_http}/${CORRAL_ALLOC_ID}/${CORRAL_ALLOC_INDEX}/${CORRAL_JOB_ID}")).toBe("10.0.0.7:25001/a-1/2/web");
  });
  test("NOMAD_* spellings are aliases", () => {
    expect(value("${NOMAD_PORT_http} ${NOMAD_ADDR_http} ${NOMAD_ALLOC_ID} ${NOMAD_ALLOC_INDEX} ${NOMAD_JOB_NAME}")).toBe("25001 10.0.0.7:25001 a-1 2 web");
    expect(value("${NOMAD_HOST_PORT_http}")).toBe("25001");
    expect(canonicalName("NOMAD_TASK_DIR")).toBe("CORRAL_TASK_DIR");
    expect(canonicalName("NOMAD_META_color")).toBe("CORRAL_META_COLOR");
  });
  test("node, attr, meta and env", () => {
    expect(value("${node.unique.id} ${node.unique.name} ${node.datacenter}")).toBe("n-1 agent-1 dc2");
    expect(value("${attr.cpu.arch}-${meta.rack}")).toBe("x86_64-r1");
    expect(value("${env.GREETING} ${HOME}")).toBe("hi /home/t");
  });
  test("unknown names are errors naming the reference", () => {
    const r = interpolate("${CORRAL_PORT_htp}", scope);
    expect(r).toEqual({ ok: false, error: "unknown variable ${CORRAL_PORT_htp} (have: http)" });
    expect(interpolate("${meta.zone}", scope)).toMatchObject({ ok: false, error: expect.stringContaining('no meta "zone"') });
    expect(interpolate("${node.region}", scope)).toMatchObject({ ok: false, error: expect.stringContaining("unknown variable ${node.region}") });
  });
  test("a value is substituted once: a value holding ${...} is not read again", () => {
    const s: Scope = { ...scope, node: { ...scope.node, meta: { rack: "${HOME}" } } };
    expect(interpolate("${meta.rack}", s)).toEqual({ ok: true, value: "${HOME}" });
  });
});

const job = (task: Record<string, unknown>) => ({ id: "j", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", ...task }] }] });

describe("validation at submission", () => {
  test("an unknown variable is refused with its key path and the labels there are", () => {
    const r = validateJob(job({ ports: { http: {} }, args: ["--listen", "${CORRAL_PORT_htp}"] }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([{ path: "groups[0].tasks[0].args[1]", message: "unknown variable ${CORRAL_PORT_htp} (have: http)" }]);
  });
  test("every interpolated field is checked: env, service tags, check paths", () => {
    const r = validateJob(job({
      ports: { http: {} }, env: { A: "${env.NOPE}", B: "${CORRAL_ALLOC_ID" },
      service: { name: "web", port: "http", tags: ["${FOO_BAR}"], checks: [{ type: "http", path: "/h/${node.nickname}" }] },
    }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const paths = r.errors.map((e) => e.path).sort();
      expect(paths).toEqual(["groups[0].tasks[0].env.A", "groups[0].tasks[0].env.B", "groups[0].tasks[0].service.checks[0].path", "groups[0].tasks[0].service.tags[0]"]);
    }
  });
  test("known names, node-dependent attr/meta and escapes pass", () => {
    const r = validateJob(job({
      ports: { http: {} }, env: { GREETING: "hi" },
      args: ["${CORRAL_PORT_http}", "${NOMAD_ADDR_http}", "${CORRAL_TASK_DIR}", "${meta.rack}", "${attr.os.name}", "${env.GREETING}", "${node.unique.name}", "$${literal}", "${HOME}"],
    }));
    expect(r.ok).toBe(true);
  });
});

describe("resolveTask and the exec env share one list of names", () => {
  const task: Task = {
    name: "t", driver: "exec", command: "/bin/x", args: ["${CORRAL_PORT_http}", "${meta.rack}"], env: { URL: "http://${CORRAL_ADDR_http}/" },
    resources: { cpuMhz: 10, memoryMb: 10 }, ports: { http: {} },
    service: { name: "web", tags: ["rack-${meta.rack}"], port: "http", checks: [{ name: "c", type: "http", path: "/${CORRAL_ALLOC_ID}", intervalMs: 1000, timeoutMs: 1000 }] },
  };
  test("every field resolves from the environment the task gets", () => {
    const env = taskEnv({
      allocId: "a-9", jobId: "j", namespace: "default", group: "g", index: 0, task, allocDir: "/d", taskDir: "/d/t",
      host: "127.0.0.1", ports: [{ task: "t", label: "http", value: 31000, static: false }], agentEnv: {},
    });
    expect(env.CORRAL_IP_HTTP).toBe("127.0.0.1");
    const r = resolveTask(task, { env, node: scope.node });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.task.args).toEqual(["31000", "r1"]);
    expect(r.task.env.URL).toBe("http://127.0.0.1:31000/");
    expect(r.task.service!.tags).toEqual(["rack-r1"]);
    expect(r.task.service!.checks[0]!.path).toBe("/a-9");
  });
  test("a node without the meta fails the task naming the field", () => {
    const r = resolveTask(task, { env: { CORRAL_PORT_HTTP: "1", CORRAL_ADDR_HTTP: "h:1" }, node: { ...scope.node, meta: {} } });
    expect(r).toMatchObject({ ok: false, field: "args[1]", error: expect.stringContaining('no meta "rack"') });
  });
});

describe("templates' children", () => {
  const base = { id: "enc", type: "batch", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/echo", args: ["${CORRAL_META_INPUT}", "${NOMAD_META_preset}"] }] }] };
  test("a parameterized job may name the meta its dispatches carry", () => {
    expect(validateJob({ ...base, parameterized: { meta_required: ["input"], meta_optional: ["preset"] } }).ok).toBe(true);
  });
  test("a plain job has no CORRAL_META_* variables to name", () => {
    const r = validateJob(base);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path)).toEqual(["groups[0].tasks[0].args[0]", "groups[0].tasks[0].args[1]"]);
  });
  test("a dispatch's meta value is passed on as written, ${ included", async () => {
    const { childJob } = await import("../../core/cluster/scheduling/children.ts");
    const parsed = validateJob({ ...base, parameterized: { meta_required: ["input"], meta_optional: ["preset"] } });
    if (!parsed.ok) throw new Error("invalid");
    const child = childJob(parsed.job, "enc/dispatch-1-x", { meta: { input: "a${b}c", preset: "p" } });
    const t = child.groups[0]!.tasks[0]!;
    const r = resolveTask(t, { env: { ...t.env }, node: scope.node });
    expect(r).toMatchObject({ ok: true, task: { args: ["a${b}c", "p"], env: { CORRAL_META_INPUT: "a${b}c" } } });
  });
});

describe("constraints take the same node spellings", () => {
  test("${node.unique.name} and ${node.unique.id} in a constraint read the node's name and id", async () => {
    const { compileAttribute, attributeError } = await import("../../core/scheduler/attribute.ts");
    const node = { id: "n-1", name: "agent-1", status: "ready", attributes: {}, meta: { rack: "r1" }, resources: {}, reserved: {} } as any;
    expect(attributeError("${node.unique.name}")).toBeNull();
    expect(compileAttribute("${node.unique.name}")(node)).toBe("agent-1");
    expect(compileAttribute("${node.unique.id}")(node)).toBe("n-1");
    expect(attributeError("${node.unique.colour}")).toContain("unknown node field");
    // Object's own names are missing keys in constraints too.
    expect(compileAttribute("${meta.constructor}")(node)).toBeUndefined();
    expect(compileAttribute("${attr.toString}")({ ...node, attributes: {} })).toBeUndefined();
  });
});

describe("names that are Object's own", () => {
  test("${constructor}, ${toString}, ${env.__proto__} and ${meta.constructor} find nothing", () => {
    for (const ref of ["constructor", "toString", "hasOwnProperty", "env.__proto__", "env.constructor", "node.constructor"]) {
      expect(interpolate(`\${${ref}}`, scope)).toMatchObject({ ok: false });
    }
    expect(interpolate("${meta.constructor}", scope)).toMatchObject({ ok: false, error: expect.stringContaining('no meta "constructor"') });
    expect(interpolate("${attr.__proto__}", scope)).toMatchObject({ ok: false });
    const r = validateJob(job({ args: ["${constructor}", "${toString}", "${env.__proto__}"] }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path)).toEqual(["groups[0].tasks[0].args[0]", "groups[0].tasks[0].args[1]", "groups[0].tasks[0].args[2]"]);
  });
});
