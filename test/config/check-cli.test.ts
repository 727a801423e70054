// `corral config check` refuses what start refuses: the same environment
// overrides, bind addresses checked as addresses, the role the file implies.
// Each case runs both the check and the start of the real binary.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/proc.ts";
import { corralEach, type CliCall } from "../helpers/cli-batch.ts";

/** CORRAL_* variables of the test runner's own environment left out, so only the test's count. */
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CORRAL_")));

function configFile(text: string): string {
  const f = join(tempDir(), "corral.toml");
  writeFileSync(f, text);
  return f;
}

// Every case's invocations are independent processes: each test starts its own
// side by side (test/helpers/cli-batch.ts) and then checks each one.
const run = <const L extends readonly CliCall[]>(...calls: L) => corralEach(calls, {}, { baseEnv: CLEAN_ENV, timeoutMs: 30_000 });
const T = 120_000;

describe("config check = start's validation", () => {
  test('bind = "not-an-ip": FILE:LINE: node.bind: reason, exit 2, and start refuses it the same way', async () => {
    const f = configFile(`[node]\nname = "n1"\nbind = "not-an-ip"\n`);
    const line = `${f}:3: node.bind: must be an IP address such as "127.0.0.1", "0.0.0.0" or "::", got "not-an-ip"`;
    const ok = configFile(`[node]\nname = "n1"\n`);
    const [check, start, flag, env, v6] = await run(
      ["config", "check", f],
      ["dev", "--config", f, "--data-dir", join(tempDir(), "d")],
      ["config", "check", ok, "--bind", "nope"],
      { args: ["config", "check", ok], env: { CORRAL_NODE_BIND: "nope" } },
      ["config", "check", ok, "--bind", "::1"],
    );
    expect(check.code).toBe(2);
    expect(check.err.trim()).toBe(`corral: config error: ${line}`);
    expect(start.code).toBe(2);
    expect(start.err.trim()).toBe(`corral: config error: ${line}`);
    // From a flag and from the environment too.
    expect(flag.err).toContain('flags: --bind: must be an IP address');
    expect(env.err).toContain('env: CORRAL_NODE_BIND: must be an IP address');
    expect(v6.code).toBe(0);
  }, T);

  test("the ok line lists where the node would listen, flags included", async () => {
    const f = configFile(`[node]\nname = "n2"\n`);
    const [r] = await run(["config", "check", f, "--ports", "7800", "--dns-port", "9053"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("listeners: http 127.0.0.1:7800, dns 127.0.0.1:9053 (udp+tcp), invoke 127.0.0.1:7801\n");
  }, T);

  test("environment overrides are checked as start checks them", async () => {
    const f = configFile(`[node]\nname = "n1"\n`);
    const noName = configFile(`[node]\nname = "-bad"\n`);
    const [plain, badPort, typo, badDns, bad, fixed] = await run(
      ["config", "check", f],
      { args: ["config", "check", f], env: { CORRAL_NODE_HTTP_PORT: "seventy" } },
      { args: ["config", "check", f], env: { CORRAL_NODE_HTTP_PROT: "7700" } },
      { args: ["config", "check", f], env: { CORRAL_PLUGINS_DNS_PORT: "99999" } },
      ["config", "check", noName],
      { args: ["config", "check", noName], env: { CORRAL_NODE_NAME: "good" } },
    );
    expect(plain.code).toBe(0);
    expect(badPort.code).toBe(2);
    expect(badPort.err).toContain('env: CORRAL_NODE_HTTP_PORT: expected an integer, got "seventy"');
    expect(typo.code).toBe(2);
    expect(typo.err).toContain("env: CORRAL_NODE_HTTP_PROT: unknown variable (did you mean CORRAL_NODE_HTTP_PORT?)");
    expect(badDns.code).toBe(2);
    expect(badDns.err).toContain("env: CORRAL_PLUGINS_DNS_PORT:");
    // An override that makes a bad file good counts too.
    expect(bad.code).toBe(2);
    expect(fixed.code).toBe(0);
  }, T);

  test("TLS files start cannot read are refused by the check too", async () => {
    const f = configFile(`[node]\nname = "n1"\n[tls]\ncert_file = "/nonexistent/cert.pem"\nkey_file = "/nonexistent/key.pem"\n`);
    const [check, start] = await run(["config", "check", f], ["dev", "--config", f, "--data-dir", join(tempDir(), "d")]);
    expect(check.code).toBe(2);
    expect(check.err).toContain(`${f}:4: tls.cert_file: cannot read /nonexistent/cert.pem: ENOENT`);
    expect(check.err).toContain(`${f}:5: tls.key_file: cannot read /nonexistent/key.pem: ENOENT`);
    expect(start.code).toBe(2);
    expect(start.err).toBe(check.err);
  }, T);

  test("the role the file implies, or --role", async () => {
    const agent = configFile(`[agent]\nleaders = ["127.0.0.1:7700"]\n`);
    const leader = configFile(`[cluster]\nsecret = "0123456789abcdef0123"\n`);
    const dev = configFile(`[node]\nname = "laptop"\n`);
    const [a, agentOk, asLeader, leaderAsAgent, asDev, devAsLeader, devWithLeaders] = await run(
      ["config", "check", agent],
      { args: ["config", "check", agent], env: { CORRAL_CLUSTER_SECRET: "0123456789abcdef0123" } },
      ["config", "check", leader],
      ["config", "check", leader, "--role", "agent"],
      ["config", "check", dev],
      ["config", "check", dev, "--role", "leader"],
      { args: ["config", "check", dev], env: { CORRAL_AGENT_LEADERS: "127.0.0.1:7700" } },
    );
    expect(a.code).toBe(2);
    expect(a.err).toContain(`${agent}: cluster.secret: required for the agent role`);
    expect(agentOk.code).toBe(0);
    expect(agentOk.out).toContain("is a valid agent config (role agent: agent.leaders is set;");

    expect(asLeader.out).toContain("is a valid leader config (role leader: cluster.secret is set;");
    expect(leaderAsAgent.code).toBe(2);
    expect(leaderAsAgent.err).toContain("agent.leaders: an agent needs at least one leader");

    expect(asDev.out).toContain("is a valid dev config (role dev:");
    expect(devAsLeader.err).toContain("cluster.secret: required for the leader role");
    // Leaders from the environment make it an agent file as well.
    expect(devWithLeaders.err).toContain("required for the agent role");
  }, T);
});
