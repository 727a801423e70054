// Templates on an agent (no state of its own): it reads KV and the catalog
// through its API, which asks a leader, with blocking queries. A KV change
// re-renders the file and restarts the task.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, getJson, killAll, sleep, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { reapTasks, startAgent, startLeader, stopJob, submit, type Agent } from "../jobs/cluster-helpers.ts";

let leader: CorralProcess;
let agent: Agent;
let out: string;

beforeAll(async () => {
  leader = await startLeader();
  agent = await startAgent(leader, "agent-tpl");
  out = tempDir("corral-tpl-agent-");
  chmodSync(out, 0o777);
}, 60_000);

afterAll(async () => {
  await stopJob(leader.url, "tpl-agent").catch(() => {});
  await sleep(500);
  await killAll();
  if (agent) reapTasks(agent.dataDir);
});

const put = (key: string, v: string) => getJson(`${leader.url}/v1/kv/${key}`, { method: "PUT", body: v });

test("an agent renders from the leader's KV and re-renders on change", async () => {
  expect((await put("app/color", "blue")).status).toBe(200);
  await submit(leader.url, {
    id: "tpl-agent",
    groups: [{ name: "g", tasks: [{
      name: "t", command: "/bin/sh", args: ["-c", `cp local/app.conf "$OUT/app-$$.conf"; echo $$ >> "$OUT/pids"; while :; do sleep 1; done`],
      env: { OUT: out }, resources: { cpu: 50, memory: 64 },
      templates: [{ data: `color={{ "app/color" | key }}\n{% for p in tree["app/"] %}{{ p.Key }};{% endfor %}`, destination: "local/app.conf", splay: "0s" }],
    }] }],
  });
  const pids = () => (existsSync(join(out, "pids")) ? readFileSync(join(out, "pids"), "utf8").trim().split("\n").filter(Boolean) : []);
  const first = await eventually(() => pids()[0], 60_000, 250);
  expect(readFileSync(join(out, `app-${first}.conf`), "utf8")).toBe("color=blue\ncolor;");
  expect((await put("app/color", "red")).status).toBe(200);
  const second = await eventually(() => pids()[1], 60_000, 250);
  expect(readFileSync(join(out, `app-${second}.conf`), "utf8")).toBe("color=red\ncolor;");
}, 120_000);
