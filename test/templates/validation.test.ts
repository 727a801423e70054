// Template validation at submission, through a real node: each problem is
// a 400 naming the key path of the offending field (the template's index
// included), before anything is scheduled.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

let node: CorralProcess;
beforeAll(async () => {
  node = await startCorral({ role: "dev", config: `[plugins]\nenabled = ["probe", "discovery"]\nwatch = false\n` });
}, 60_000);
afterAll(killAll);

const job = (templates: unknown[]) => ({
  id: "v", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", templates }] }],
});

async function validate(templates: unknown[]) {
  return getJson(node.url + "/v1/jobs", { method: "POST", body: JSON.stringify(job(templates)), headers: { "content-type": "application/json" } });
}

const ok = { data: "x={{ node.name }}", destination: "local/x" };

test("a template that does not parse, escapes the task dir, or misses fields is refused with its key path", async () => {
  const cases: [unknown[], string, string][] = [
    [[ok, { data: "{% for s in service['db'] %}", destination: "local/a" }], "groups[0].tasks[0].templates[1].data", "not closed"],
    [[{ data: "{{ 'x' | nosuch }}", destination: "local/a" }], "groups[0].tasks[0].templates[0].data", "nosuch"],
    [[{ data: `{% include "/etc/shadow" %}`, destination: "local/a" }], "groups[0].tasks[0].templates[0].data", "templates read no files"],
    [[{ ...ok, destination: "../../etc/passwd" }], "groups[0].tasks[0].templates[0].destination", "inside the task directory"],
    [[{ ...ok, destination: "/etc/passwd" }], "groups[0].tasks[0].templates[0].destination", "inside the task directory"],
    [[{ ...ok, change_mode: "script" }], "groups[0].tasks[0].templates[0].change_script", "needs change_script"],
    [[{ ...ok, change_mode: "noop", change_script: { command: "/bin/true" } }], "groups[0].tasks[0].templates[0].change_script", "is for change_mode"],
    [[{ ...ok, change_mode: "script", change_script: { command: "/bin/true", timeout: "0s" } }], "groups[0].tasks[0].templates[0].change_script.timeout", "longer than 0"],
    [[{ ...ok, change_mode: "script", change_script: { command: "/bin/true", args: ["${nope}"] } }], "groups[0].tasks[0].templates[0].change_script.args[0]", "unknown variable"],
    [[{ ...ok, change_mode: "script", change_script: { command: "/bin/true", shell: true } }], "groups[0].tasks[0].templates[0].change_script.shell", "unknown key"],
    [[{ ...ok, change_mode: "bogus" }], "groups[0].tasks[0].templates[0].change_mode", "script"],
    [[{ ...ok, change_mode: "signal" }], "groups[0].tasks[0].templates[0].change_signal", "needs change_signal"],
    [[{ ...ok, change_mode: "signal", change_signal: "SIGSTOP" }], "groups[0].tasks[0].templates[0].change_signal", "not a signal"],
    [[{ ...ok, source: "/etc/shadow" }], "groups[0].tasks[0].templates[0]", "source"],
    [[{ ...ok, perms: "rwx" }], "groups[0].tasks[0].templates[0].perms", "octal"],
    [[{ ...ok, splay: "soon" }], "groups[0].tasks[0].templates[0].splay", "not a duration"],
    [[ok, ok], "groups[0].tasks[0].templates[1].destination", "same file"],
    [[{ ...ok, data: "x".repeat(70_000) }], "groups[0].tasks[0].templates[0].data", "at most"],
    [Array.from({ length: 17 }, (_, i) => ({ ...ok, destination: `local/${i}` })), "groups[0].tasks[0].templates", "at most 16"],
  ];
  for (const [templates, path, words] of cases) {
    const r = await validate(templates);
    expect(r.status).toBe(400);
    const text = JSON.stringify(r.body);
    expect({ path, found: text.includes(path) && text.includes(words), text }).toMatchObject({ path, found: true });
  }
  const good = await validate([ok, { data: `{% for s in service["db"] %}{{ s.Address }}{% endfor %}`, destination: "env", env: true, change_mode: "signal", change_signal: "HUP", splay: "2s" }]);
  expect(good.status).toBe(200);
  const script = await validate([{ ...ok, change_mode: "script", change_script: { command: "/bin/sh", args: ["-c", "echo ${CORRAL_TASK}"], timeout: "2s", fail_on_error: true } }]);
  expect(script.status).toBe(200);
}, 60_000);
