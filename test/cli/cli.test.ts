// The CLI as a user runs it: help everywhere, exit codes, config errors with
// file:line:key, flags over env over file, and the client commands against a
// real dev node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, tempDir, freePort, ENTRY, BUN, ROOT, type CorralProcess } from "../helpers/proc.ts";

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
  test("--help at the top and on every subcommand", () => {
    const top = corral(["--help"]);
    expect(top.code).toBe(0);
    for (const c of ["dev", "leader", "agent", "nodes", "plugins", "config check", "version"]) {
      expect(top.out).toContain(c);
      const sub = corral([...c.split(" "), "--help"]);
      expect(sub.code).toBe(0);
      expect(sub.out).toContain("Usage: corral " + c);
    }
    expect(corral(["dev", "--help"]).out).toContain("--http-port");
  });

  test("version, unknown commands and bad flags", () => {
    expect(corral(["version"]).out).toMatch(/^corral \d+\.\d+\.\d+/);
    const unknown = corral(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
    const badFlag = corral(["dev", "--http-port", "abc"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toContain("--http-port takes a whole number");
    const noConfig = corral(["leader"]);
    expect(noConfig.code).toBe(2);
    expect(noConfig.err).toContain("--config FILE is required");
  });

  test("config check: ok, and FILE:LINE: key: reason with exit 2", () => {
    const good = configFile(`[cluster]\nsecret = "0123456789abcdef0123"\n`);
    const ok = corral(["config", "check", good]);
    expect(ok.code).toBe(0);
    expect(ok.out).toStartWith("ok:");

    const bad = configFile(`[node]\nbind = "127.0.0.1"\nhttp_port = 99999\n`);
    const r = corral(["config", "check", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`corral: config error: ${bad}:3: node.http_port:`);

    const unknownKey = configFile(`[node]\nbnid = "0.0.0.0"\n`);
    const u = corral(["config", "check", unknownKey]);
    expect(u.code).toBe(2);
    expect(u.err).toContain(`${unknownKey}:2: node.bnid: unknown key`);

    const syntax = configFile(`[node\nname = "x"\n`);
    expect(corral(["config", "check", syntax]).code).toBe(2);

    const missing = corral(["config", "check", "/nonexistent/corral.toml"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("/nonexistent/corral.toml");
  });

  test("a bad config stops a node from starting, exit 2", () => {
    const bad = configFile(`[leader]\nnode_ttl = "soon"\n`);
    const r = corral(["dev", "--config", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}:2: leader.node_ttl`);
    const leaderNoSecret = corral(["leader", "--config", configFile("")]);
    expect(leaderNoSecret.code).toBe(2);
    expect(leaderNoSecret.err).toContain("cluster.secret");
  });

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
    const table = corral(["nodes"], env);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(table.out).toContain("ready");
    const json = JSON.parse(corral(["nodes", "--json"], env).out);
    expect(json[0].status).toBe("ready");

    expect(corral(["plugins", "list"], env).out).toMatch(/probe\s+enabled/);
    expect(corral(["plugins", "disable", "probe"], env).out).toContain("probe: disabled");
    expect(corral(["plugins", "enable", "probe", "--addr", dev.url], {}).out).toContain("probe: enabled");
    expect(corral(["plugins", "reload", "probe"], env).code).toBe(0);
    const missing = corral(["plugins", "enable", "nope"], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no plugin named "nope"');
  });

  test("an unreachable node is a clear error, exit 1", () => {
    const r = corral(["nodes"], { CORRAL_ADDR: "http://127.0.0.1:1" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("cannot reach corral at http://127.0.0.1:1");
  });

  test("kv get/put/delete and operator raft/snapshot against a node", () => {
    const env = { CORRAL_ADDR: dev.url };
    expect(corral(["kv", "put", "cli/a", "hello"], env).out).toContain("wrote cli/a");
    expect(corral(["kv", "get", "cli/a"], env).out).toBe("hello\n");
    expect(corral(["kv", "put", "cli/b", "2", "--cas", "0"], env).code).toBe(0);
    const casFail = corral(["kv", "put", "cli/b", "3", "--cas", "0"], env);
    expect(casFail.code).toBe(1);
    expect(corral(["kv", "get", "cli/", "--recurse"], env).out).toBe("cli/a: hello\ncli/b: 2\n");
    const missing = corral(["kv", "get", "cli/nope"], env);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no key cli/nope");

    expect(corral(["operator", "raft", "list-peers"], env).out).toMatch(/ADDRESS\s+STATE\s+VOTER/);
    const file = join(tempDir(), "backup.json");
    expect(corral(["operator", "snapshot", "save", file], env).out).toContain(`to ${file}`);
    expect(corral(["kv", "delete", "cli/", "--recurse"], env).code).toBe(0);
    expect(corral(["kv", "get", "cli/a"], env).code).toBe(1);
    expect(corral(["operator", "snapshot", "restore", file], env).out).toContain("restored");
    expect(corral(["kv", "get", "cli/a"], env).out).toBe("hello\n");
  });
});
