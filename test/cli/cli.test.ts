// The CLI as a user runs it: help everywhere, exit codes, config errors with
// file:line:key, flags over env over file, and the client commands against a
// real dev node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, tempDir, freePort, ENTRY, BUN, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { corralEach, type CliResult } from "../helpers/cli-batch.ts";

function corral(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function configFile(text: string): string {
  const f = join(tempDir(), "corral.toml");
  writeFileSync(f, text);
  return f;
}

let dev: CorralProcess;
beforeAll(async () => {
  dev = await startCorral({ role: "dev" });
});
afterAll(killAll);

describe("corral CLI", () => {
  test("--help at the top and on every subcommand", async () => {
    const commands = ["dev", "leader", "agent", "nodes", "plugins", "config check", "version"];
    // Independent processes: started side by side (test/helpers/cli-batch.ts).
    const [top, ...subs] = await corralEach([["--help"], ...commands.map((c) => [...c.split(" "), "--help"])]);
    expect(top!.code).toBe(0);
    commands.forEach((c, i) => {
      expect(top!.out).toContain(c);
      expect(subs[i]!.code).toBe(0);
      expect(subs[i]!.out).toContain("Usage: corral " + c);
    });
    expect(subs[0]!.out).toContain("--http-port"); // corral dev --help
  }, 120_000);

  test("version, unknown commands and bad flags", async () => {
    const [version, unknown, badFlag, noConfig] = (await corralEach([["version"], ["frobnicate"], ["dev", "--http-port", "abc"], ["leader"]])) as CliResult[];
    expect(version!.out).toMatch(/^corral \d+\.\d+\.\d+/);
    expect(unknown!.code).toBe(2);
    expect(unknown!.err).toContain('unknown command "frobnicate"');
    expect(badFlag!.code).toBe(2);
    expect(badFlag!.err).toContain("--http-port takes a whole number");
    expect(noConfig!.code).toBe(2);
    expect(noConfig!.err).toContain("--config FILE is required");
  }, 120_000);

  test("config check: ok, and FILE:LINE: key: reason with exit 2", async () => {
    const good = configFile(`[cluster]\nsecret = "0123456789abcdef0123"\n`);
    const bad = configFile(`[node]\nbind = "127.0.0.1"\nhttp_port = 99999\n`);
    const unknownKey = configFile(`[node]\nbnid = "0.0.0.0"\n`);
    const syntax = configFile(`[node\nname = "x"\n`);
    const [ok, r, u, syn, missing] = (await corralEach(
      [good, bad, unknownKey, syntax, "/nonexistent/corral.toml"].map((f) => ["config", "check", f]),
    )) as CliResult[];

    expect(ok!.code).toBe(0);
    expect(ok!.out).toStartWith("ok:");

    expect(r!.code).toBe(2);
    expect(r!.err).toContain(`corral: config error: ${bad}:3: node.http_port:`);

    expect(u!.code).toBe(2);
    expect(u!.err).toContain(`${unknownKey}:2: node.bnid: unknown key`);

    expect(syn!.code).toBe(2);

    expect(missing!.code).toBe(2);
    expect(missing!.err).toContain("/nonexistent/corral.toml");
  }, 120_000);

  test("a bad config stops a node from starting, exit 2", async () => {
    const bad = configFile(`[leader]\nnode_ttl = "soon"\n`);
    const [r, leaderNoSecret] = (await corralEach([["dev", "--config", bad], ["leader", "--config", configFile("")]])) as CliResult[];
    expect(r!.code).toBe(2);
    expect(r!.err).toContain(`${bad}:2: leader.node_ttl`);
    expect(leaderNoSecret!.code).toBe(2);
    expect(leaderNoSecret!.err).toContain("cluster.secret");
  }, 120_000);

  test("flags override env, env overrides the file", async () => {
    const filePort = await freePort();
    const envPort = await freePort();
    const flagPort = await freePort();
    const p = await startCorral({
      role: "dev", port: flagPort, config: `[node]\nhttp_port = ${filePort}\nname = "from-file"\n`,
      env: { CORRAL_NODE_HTTP_PORT: String(envPort), CORRAL_NODE_NAME: "from-env" },
    });
    expect(p.url).toContain(String(flagPort));
    expect((await getJson(p.url + "/v1/agent/self")).body.corral.nodeName).toBe("from-env");
    await p.kill();
  });

  test("nodes and plugins against a running node, tables and --json", async () => {
    const env = { CORRAL_ADDR: dev.url };
    await new Promise((r) => setTimeout(r, 500));
    // The reads do not depend on each other: side by side. Then the state changes, in order.
    const [table, asJson, list, missing] = (await corralEach(
      [["nodes"], ["nodes", "--json"], ["plugins", "list"], ["plugins", "enable", "nope"]],
      env,
    )) as CliResult[];
    expect(table!.code).toBe(0);
    expect(table!.out).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(table!.out).toContain("ready");
    const json = JSON.parse(asJson!.out);
    expect(json[0].status).toBe("ready");

    expect(list!.out).toMatch(/probe\s+enabled/);
    expect(missing!.code).toBe(1);
    expect(missing!.err).toContain('no plugin named "nope"');

    expect(corral(["plugins", "disable", "probe"], env).out).toContain("probe: disabled");
    expect(corral(["plugins", "enable", "probe", "--addr", dev.url], {}).out).toContain("probe: enabled");
    expect(corral(["plugins", "reload", "probe"], env).code).toBe(0);
  }, 120_000);

  test("an unreachable node is a clear error, exit 1", () => {
    const r = corral(["nodes"], { CORRAL_ADDR: "http://127.0.0.1:1" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("cannot reach corral at http://127.0.0.1:1");
  });

  test("kv get/put/delete and operator raft/snapshot against a node", async () => {
    const env = { CORRAL_ADDR: dev.url };
    // Two writes of different keys, side by side; then the reads that follow them.
    const [putA, putB] = (await corralEach([["kv", "put", "cli/a", "hello"], ["kv", "put", "cli/b", "2", "--cas", "0"]], env)) as CliResult[];
    expect(putA!.out).toContain("wrote cli/a");
    expect(putB!.code).toBe(0);
    const [getA, casFail, missing, peers] = (await corralEach(
      [["kv", "get", "cli/a"], ["kv", "put", "cli/b", "3", "--cas", "0"], ["kv", "get", "cli/nope"], ["operator", "raft", "list-peers"]],
      env,
    )) as CliResult[];
    expect(getA!.out).toBe("hello\n");
    expect(casFail!.code).toBe(1); // cli/b exists: --cas 0 (create only) refuses
    // After the refused write (not beside it): cli/b is still 2.
    expect(corral(["kv", "get", "cli/", "--recurse"], env).out).toBe("cli/a: hello\ncli/b: 2\n");
    expect(missing!.code).toBe(1);
    expect(missing!.err).toContain("no key cli/nope");

    expect(peers!.out).toMatch(/ADDRESS\s+STATE\s+VOTER/);
    const file = join(tempDir(), "backup.json");
    expect(corral(["operator", "snapshot", "save", file], env).out).toContain(`to ${file}`);
    expect(corral(["kv", "delete", "cli/", "--recurse"], env).code).toBe(0);
    expect(corral(["kv", "get", "cli/a"], env).code).toBe(1);
    expect(corral(["operator", "snapshot", "restore", file], env).out).toContain("restored");
    expect(corral(["kv", "get", "cli/a"], env).out).toBe("hello\n");
  }, 120_000);
});
