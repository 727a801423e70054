// `${...}` in template data (docs/jobs.md "Interpolation"), through a real
// dev node with ACLs: references in the template's text are replaced by the
// task's own values; an unknown one, or one inside Liquid markup, is refused
// at submission with its key path. And the two languages cannot be combined
// to see more than the task may: a value holding Liquid is printed, not run
// (with the agent's KV rights); a KV value holding `${...}` is printed, not
// resolved; another task's environment is out of reach either way.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, killAll, sleep, tempDir } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call, startAclNode, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let out: string;

beforeAll(async () => {
  n = await startAclNode(`\n[node]\nmeta = { rack = "r7" }\n\n[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`);
  out = tempDir("corral-tpl-interp-");
  chmodSync(out, 0o777);
}, 60_000);

afterAll(async () => {
  await call(n.url, "DELETE", "/v1/job/tpl-interp?purge", n.management).catch(() => {});
  await sleep(500);
  await killAll();
  if (n) reapTasks(n.proc.dataDir);
});

const read = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), "utf8") : "");

function job(templates: unknown[], other: Record<string, unknown> = {}) {
  return {
    id: "tpl-interp", groups: [{
      name: "g",
      tasks: [
        { name: "t", command: "/bin/sh", args: ["-c", `cp local/out "$OUT/out"; while :; do sleep 1; done`], env: { OUT: out, MINE: "mine" }, ports: { http: {} }, resources: { cpu: 50, memory: 64 }, templates },
        { name: "other", command: "/bin/sh", args: ["-c", "while :; do sleep 1; done"], env: { OTHER_SECRET: "s3cret" }, resources: { cpu: 50, memory: 64 }, ...other },
      ],
    }],
  };
}

test("unknown references, references inside Liquid markup and another task's variables are refused with the key path", async () => {
  const cases: [string, string][] = [
    ["x=${nope}", "unknown variable ${nope}"],
    ["x=${CORRAL_PORT_htp}", "have: http"],
    ["x=${OTHER_SECRET}", "unknown variable ${OTHER_SECRET}"], // the other task's env is not this task's
    ['{{ "app/${CORRAL_JOB_ID}" | key }}', "inside Liquid markup"],
    ["{% if x == '${CORRAL_TASK}' %}y{% endif %}", "inside Liquid markup"],
    ["x=${CORRAL_TASK", "unterminated"],
  ];
  for (const [data, words] of cases) {
    const r = await call(n.url, "POST", "/v1/jobs", n.management, job([{ data, destination: "local/out" }]));
    expect({ data, status: r.status }).toEqual({ data, status: 400 });
    const text = JSON.stringify(r.body);
    expect({ data, found: text.includes("groups[0].tasks[0].templates[0].data") && text.includes(words), text }).toMatchObject({ found: true });
  }
}, 60_000);

test("references render the task's values; values are printed, never run as Liquid; rendered KV is never resolved", async () => {
  // Data only the agent's token could read, and values that try to reach it.
  expect((await call(n.url, "PUT", "/v1/kv/secret/agent-only", n.management, "TOPSECRET", { "content-type": "text/plain" })).status).toBe(200);
  expect((await call(n.url, "PUT", "/v1/kv/app/greeting", n.management, "hi ${OUT} ${MINE}", { "content-type": "text/plain" })).status).toBe(200);
  expect((await call(n.url, "POST", "/v1/client/metadata", n.management, { Meta: { evil: '{{ "secret/agent-only" | key }}{% raw %}' } })).status).toBe(200);
  const data = [
    "port=${CORRAL_PORT_http}", "job=${NOMAD_JOB_NAME}/${CORRAL_TASK}", "rack=${meta.rack}", "mine=${MINE} ${env.MINE}",
    "literal=$${HOME}", "evil=${meta.evil}", 'kv={{ "app/greeting" | key }}', "other={{ env.OTHER_SECRET }}.",
    "raw={% raw %}${untouched}{% endraw %}",
  ].join("\n");
  const r = await call(n.url, "POST", "/v1/jobs", n.management, job([{ data, destination: "local/out" }]));
  expect(r.status).toBe(200);
  await eventually(() => read("out") !== "", 60_000, 250);
  const lines = read("out").split("\n");
  expect(lines[0]).toMatch(/^port=\d+$/);
  expect(lines.slice(1)).toEqual([
    "job=tpl-interp/t", "rack=r7", "mine=mine mine", "literal=${HOME}",
    'evil={{ "secret/agent-only" | key }}{% raw %}', "kv=hi ${OUT} ${MINE}", "other=.", "raw=${untouched}",
  ]);
  expect(read("out")).not.toContain("TOPSECRET");
  expect(read("out")).not.toContain("s3cret");
}, 120_000);
