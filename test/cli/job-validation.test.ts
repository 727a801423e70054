// A bad job file through the real CLI (issue 15, point 10): `corral job run`
// and `corral job plan` print every problem the API returns, each with its
// key path, the line and column in the file the user wrote (TOML or JSON),
// and "did you mean" for a mistyped key; exit 1, nothing registered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";

let dev: CorralProcess;
const dir = tempDir("corral-job-validation-");

beforeAll(async () => {
  dev = await startCorral({ role: "dev" });
}, 30_000);
afterAll(() => killAll());

const cli = (args: string[]) => spawnSync(BUN, [ENTRY, ...args, "--addr", dev.url], { cwd: dir, encoding: "utf8", timeout: 30_000 });

const BAD_TOML = `id = "bad"
typ = "service"

[[groups]]
name = "web"
cuont = 2

  [[groups.tasks]]
  name = "server"
  comand = "/bin/true"
  resources = { cpu = 0, memroy = 64 }
`;

const BAD_JSON = `{
  "id": "bad",
  "groups": [
    {
      "name": "web",
      "tasks": [
        { "name": "server", "command": "/bin/true",
          "resources": { "cpu": 100, "memroy": 64 } }
      ]
    }
  ],
  "priorty": 5
}
`;

describe("job file validation in the CLI", () => {
  test("TOML: every problem, located, in file order, with did-you-mean; job run, plan and validate say the same", async () => {
    writeFileSync(join(dir, "bad.toml"), BAD_TOML);
    const expected = [
      "corral: bad.toml is not a valid job (6 problems):",
      '  bad.toml:2:1: typ: unknown key (did you mean "type"?)',
      '  bad.toml:6:1: groups[0].cuont: unknown key (did you mean "count"?)',
      "  bad.toml:8:1: groups[0].tasks[0].command: required",
      '  bad.toml:10:3: groups[0].tasks[0].comand: unknown key (did you mean "command"?)',
      "  bad.toml:11:17: groups[0].tasks[0].resources.cpu: must be at least 1",
      '  bad.toml:11:26: groups[0].tasks[0].resources.memroy: unknown key (did you mean "memory"?)',
      "",
    ].join("\n");
    for (const cmd of ["run", "plan", "validate"]) {
      const r = cli(["job", cmd, "bad.toml"]);
      expect({ cmd, status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({ cmd, status: 1, stderr: expected, stdout: "" });
    }
    expect((await getJson(`${dev.url}/v1/job/bad`)).status).toBe(404);
  });

  test("JSON: the same, with the key's column", () => {
    writeFileSync(join(dir, "bad.json"), BAD_JSON);
    const r = cli(["job", "run", "bad.json"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe([
      "corral: bad.json is not a valid job (2 problems):",
      '  bad.json:8:38: groups[0].tasks[0].resources.memroy: unknown key (did you mean "memory"?)',
      '  bad.json:12:3: priorty: unknown key (did you mean "priority"?)',
      "",
    ].join("\n"));
  });

  test("job validate: a valid file says so, nothing is registered", async () => {
    writeFileSync(join(dir, "good.toml"), 'id = "good"\n[[groups]]\nname = "g"\n  [[groups.tasks]]\n  name = "t"\n  command = "/bin/true"\n');
    const r = cli(["job", "validate", "good.toml"]);
    expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 0, out: 'Job validation successful: "good" (namespace default)\n', err: "" });
    expect((await getJson(`${dev.url}/v1/job/good`)).status).toBe(404);
  });

  test("a TOML syntax error names its line", () => {
    writeFileSync(join(dir, "broken.toml"), 'id = "x"\n[[groups]\nname = "g"\n');
    const r = cli(["job", "run", "broken.toml"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^corral: broken\.toml is not a valid job \(1 problem\):\n  broken\.toml: TOML syntax error at line 2, column \d+: /);
  });
});
