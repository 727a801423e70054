// Every example of docs/jobs.md's job-type sections (marked
// `<!-- example:types NAME -->`) is registered as written on a leader and an
// agent and seen to do what the text says; the dispatch command line shown
// there is run through the real CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, eventually, getJson, killAll, sleep, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, reapTasks, startAgent, startLeader, stopJob, type Agent } from "./cluster-helpers.ts";

const doc = readFileSync(join(ROOT, "docs/jobs.md"), "utf8");
const examples = new Map<string, string>();
for (const m of doc.matchAll(/<!-- example:types (\w+) -->\n```toml\n([\s\S]*?)```/g)) examples.set(m[1]!, m[2]!);

let leader: CorralProcess;
let agent: Agent;
let L: string;

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  agent = await startAgent(leader, "dev-node");
}, 60_000);

afterAll(async () => {
  for (const j of ["node-exporter", "clean-tmp", "nightly-report", "transcode"]) await stopJob(L, j).catch(() => {});
  await sleep(1000);
  await killAll();
  if (agent) reapTasks(agent.dataDir);
});

const enc = encodeURIComponent;
const register = (toml: string) => getJson(`${L}/v1/jobs`, { method: "POST", body: toml, headers: { "content-type": "application/toml" } });
const cli = (args: string[], cwd = ROOT) => spawnSync(BUN, [ENTRY, ...args, "--addr", L], { cwd, encoding: "utf8", timeout: 30_000 });
const stdoutOf = async (allocId: string, task: string) => (await fetch(`${L}/v1/alloc/${allocId}/logs?task=${task}&type=stdout`)).text();

async function completeAlloc(jobId: string): Promise<any> {
  return eventually(async () => (await allocs(L, enc(jobId))).find((a) => a.clientStatus === "complete"), 20_000);
}

describe("docs/jobs.md job type examples", () => {
  test("the page has the four examples", () => {
    expect([...examples.keys()].sort()).toEqual(["parameterized", "periodic", "sysbatch", "system"]);
  });

  test("system: `corral job run` follows it until it runs on the node", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "exporter.toml"), examples.get("system")!);
    const run = cli(["job", "run", "exporter.toml"], dir);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("1 allocation(s) running");
    const running = await eventually(async () => (await allocs(L, "node-exporter")).find((a) => a.clientStatus === "running"), 20_000);
    expect(running.nodeName).toBe("dev-node");
  }, 30_000);

  test("sysbatch: runs once to completion", async () => {
    expect((await register(examples.get("sysbatch")!)).status).toBe(200);
    await completeAlloc("clean-tmp");
    await eventually(async () => (await getJson(`${L}/v1/job/clean-tmp`)).body.status === "dead", 10_000);
  }, 30_000);

  test("periodic: `corral job run` registers the template and returns; `corral job periodic force` launches a child that runs", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "nightly.toml"), examples.get("periodic")!);
    const run = cli(["job", "run", "nightly.toml"], dir);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("Periodic job: each launch (cron 0 30 2 * * * *, Europe/Berlin) runs as a child job nightly-report/periodic-<unix time>.");
    expect((await getJson(`${L}/v1/job/nightly-report`)).body.spec.periodic).toEqual({
      crons: ["0 30 2 * * * *"], timeZone: "Europe/Berlin", prohibitOverlap: true, enabled: true,
    });
    const r = cli(["job", "periodic", "force", "nightly-report"]);
    expect(r.status).toBe(0);
    const child = /Launched (\S+),/.exec(r.stdout)?.[1];
    expect(child).toMatch(/^nightly-report\/periodic-\d+$/);
    const done = await completeAlloc(child!);
    expect((await stdoutOf(done.id, "render")).trim()).toBe(`report for ${child}`);
    // job status shows the schedule, the next launch (02:30 in Berlin is 00:30 or 01:30 UTC) and the children.
    const view = (await getJson(`${L}/v1/job/nightly-report`)).body;
    expect(new Date(view.nextLaunch).toISOString()).toMatch(/T0[01]:30:00\.000Z$/);
    expect(view.nextLaunch).toBeGreaterThan(Date.now());
    expect(view.children.map((c: any) => c.id)).toEqual([child]);
    const status = cli(["job", "status", "nightly-report"]);
    expect(status.stdout).toContain("Periodic  0 30 2 * * * * (Europe/Berlin), no overlap");
    expect(status.stdout).toContain("Previously launched jobs");
    expect(status.stdout).toContain(child!);
  }, 30_000);

  test("parameterized: the page's `corral job dispatch` line runs with the payload file and the meta", async () => {
    expect((await register(examples.get("parameterized")!)).status).toBe(200);
    const shell = /```sh\n(echo [^\n]+)\n(corral job dispatch [^\n]+)\n```/.exec(doc);
    expect(shell).not.toBeNull();
    const dir = tempDir();
    const file = /> (\S+)$/.exec(shell![1]!)![1]!;
    writeFileSync(join(dir, file), /'([^']*)'/.exec(shell![1]!)![1]! + "\n");
    const r = cli(shell![2]!.split(" ").slice(1), dir);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const child = /Dispatched Job ID = (\S+)/.exec(r.stdout)?.[1];
    expect(child).toMatch(/^transcode\/dispatch-\d+-[0-9a-f]{8}$/);
    const done = await completeAlloc(child!);
    expect((await stdoutOf(done.id, "encode")).trim()).toBe('encoding s3://media/a.mov with {"preset":"1080p"}');
    // Without the required meta the CLI prints the API's reason and fails.
    const bad = cli(["job", "dispatch", "transcode", file], dir);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('missing required meta key "input"');
  }, 30_000);
});
