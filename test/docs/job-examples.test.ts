// Every job example in the docs (issue 15, point 9) is run or planned by a
// test on a dev node set up as the example says. This file finds every
// TOML and JSON block of README.md and docs/*.md that is a job document and
// requires an entry for it in EXAMPLES, which says how it is checked:
//   - "plan": planned here (POST /v1/job/{id}/plan) on a dev node with the
//     entry's config, and the outcome compared with what the doc promises;
//   - "elsewhere": run by the named test (which registers it as written).
// A new example fails here until it gets an entry: one more row.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { parseJobSpec } from "../../core/scheduler/index.ts";
import { exampleJob } from "../../core/cli/commands/job-init.ts";

interface Block {
  where: string;
  format: "toml" | "json";
  text: string;
  id: string;
}

function jobBlocks(): Block[] {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const out: Block[] = [];
  for (const file of files) {
    const doc = readFileSync(join(ROOT, file), "utf8");
    for (const m of doc.matchAll(/```(toml|json)\n([\s\S]*?)```/g)) {
      const parsed = parseJobSpec(m[2]!, m[1] as "toml" | "json");
      if (!parsed.ok) continue; // config, API answers, the validation sample: not jobs
      out.push({ where: `${file}:${doc.slice(0, m.index).split("\n").length}`, format: m[1] as "toml" | "json", text: m[2]!, id: parsed.job.id });
    }
  }
  return out;
}

type Expect =
  | { how: "plan"; placed: Record<string, number>; failed: Record<string, string[]> }
  | { how: "elsewhere"; test: string };

/** Key: "file format id". The dev node of every "plan" entry: NODE_CONFIG (with the node meta the shop example asks for). */
const EXAMPLES: Record<string, Expect> = {
  "docs/jobs.md toml hello": { how: "elsewhere", test: "test/jobs/job-init.test.ts (and the equality test below)" },
  // With the doc's node meta (rack, zone) on one node: distinct_hosts lets one web copy in, as the doc says.
  "docs/jobs.md toml shop": { how: "plan", placed: { web: 1, worker: 2 }, failed: { web: ["distinct_hosts: group already on node"] } },
  "docs/jobs.md toml rack-web": { how: "plan", placed: { web: 2 }, failed: {} },
  "docs/jobs.md toml web": { how: "plan", placed: { web: 3 }, failed: {} },
  "docs/jobs.md json nightly-report": process.arch === "x64"
    ? { how: "plan", placed: { report: 4 }, failed: {} }
    : { how: "plan", placed: {}, failed: { report: ["constraint ${attr.cpu.arch} = amd64"] } },
  "docs/jobs.md toml node-exporter": { how: "elsewhere", test: "test/jobs/doc-examples-types.test.ts" },
  "docs/jobs.md toml clean-tmp": { how: "elsewhere", test: "test/jobs/doc-examples-types.test.ts" },
  "docs/jobs.md toml nightly-report": { how: "elsewhere", test: "test/jobs/doc-examples-types.test.ts" },
  "docs/jobs.md toml transcode": { how: "elsewhere", test: "test/jobs/doc-examples-types.test.ts" },
  "docs/jobs.md toml app": { how: "elsewhere", test: "test/jobs/lifecycle.test.ts (docs/jobs.md's lifecycle example runs as written)" },
  "docs/jobs.md toml templated": { how: "elsewhere", test: "test/templates/templates.test.ts (docs/jobs.md's templates example runs as written)" },
  "docs/jobs.md toml checked-config": { how: "elsewhere", test: "test/templates/change-script.test.ts (docs/jobs.md's change_script example runs as written)" },
  "docs/tutorial.md toml hello": { how: "elsewhere", test: "test/docs/docs-run.test.ts" },
  // NODE_CONFIG declares the host volume "site" (read-only), as the example needs.
  "docs/jobs.md toml site": { how: "plan", placed: { web: 1 }, failed: {} },
  // Placed where the dev node found an OCI runtime as root (runc installed, as .ci/run does); else the reason.
  "docs/containers.md toml web-ctr": containerRuntimeHere()
    ? { how: "plan", placed: { web: 2 }, failed: {} }
    : { how: "plan", placed: {}, failed: { web: ["driver: container tasks need an OCI runtime (runc or crun) on the node"] } },
};

function containerRuntimeHere(): boolean {
  return process.getuid?.() === 0 && ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc", "/usr/bin/crun", "/usr/local/bin/crun"].some((p) => existsSync(p));
}

// 8 cores' worth of MHz and 16 GB offered to tasks (+ the reserve), as the JSON example says.
const NODE_CONFIG = `[node]\nmeta = { rack = "r1", zone = "eu-1a" }\n\n[node.host_volumes.site]\npath = "/tmp"\nread_only = true\n\n[plugins.probe]\ncpu_total_mhz = 16000\nmemory_total_mb = 20480\n`;

const blocks = jobBlocks();
const key = (b: Block) => `${b.where.split(":")[0]} ${b.format} ${b.id}`;
let dev: CorralProcess;

beforeAll(async () => {
  dev = await startCorral({ role: "dev", config: NODE_CONFIG });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 10_000);
}, 30_000);
afterAll(() => killAll());

describe("job examples in the docs", () => {
  test("every one has an entry (and every entry an example)", () => {
    expect(blocks.map(key).sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  test("docs/jobs.md starts with exactly what `corral job init` writes", () => {
    const first = readFileSync(join(ROOT, "docs/jobs.md"), "utf8").match(/<!-- example:init -->\n```toml\n([\s\S]*?)```/);
    expect(first?.[1]).toBe(exampleJob(["/usr/local/bin/corral"], false));
    expect(blocks.find((b) => b.where.startsWith("docs/jobs.md"))?.id).toBe("hello");
  });

  for (const b of blocks) {
    const e = EXAMPLES[key(b)];
    if (e?.how !== "plan") continue;
    test(`${b.where} (${b.id}) plans as the doc says`, async () => {
      const r = await getJson(`${dev.url}/v1/job/${encodeURIComponent(b.id)}/plan`, { method: "POST", body: b.text, headers: { "content-type": `application/${b.format}` } });
      expect(r.status).toBe(200);
      const placed: Record<string, number> = {};
      for (const p of r.body.placements) placed[p.group] = (placed[p.group] ?? 0) + 1;
      const failed = Object.fromEntries(r.body.failedGroups.map((g: any) => [g.group, Object.keys(g.metrics.reasons)]));
      expect({ where: b.where, placed, failed }).toEqual({ where: b.where, placed: e.placed, failed: e.failed });
    });
  }
});
