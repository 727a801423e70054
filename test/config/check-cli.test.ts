// `corral config check` refuses what start refuses: the same environment
// overrides, bind addresses checked as addresses, the role the file implies.
// Each case runs both the check and the start of the real binary.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, tempDir } from "../helpers/proc.ts";

/** CORRAL_* variables of the test runner's own environment left out, so only the test's count. */
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CORRAL_")));

function corral(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...CLEAN_ENV, ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function configFile(text: string): string {
  const f = join(tempDir(), "corral.toml");
  writeFileSync(f, text);
  return f;
}

describe("config check = start's validation", () => {
  test('bind = "not-an-ip": FILE:LINE: node.bind: reason, exit 2, and start refuses it the same way', () => {
    const f = configFile(`[node]\nname = "n1"\nbind = "not-an-ip"\n`);
    const line = `${f}:3: node.bind: must be an IP address such as "127.0.0.1", "0.0.0.0" or "::", got "not-an-ip"`;
    const check = corral(["config", "check", f]);
    expect(check.code).toBe(2);
    expect(check.err.trim()).toBe(`corral: config error: ${line}`);
    const start = corral(["dev", "--config", f, "--data-dir", join(tempDir(), "d")]);
    expect(start.code).toBe(2);
    expect(start.err.trim()).toBe(`corral: config error: ${line}`);
    // From a flag and from the environment too.
    const ok = configFile(`[node]\nname = "n1"\n`);
    expect(corral(["config", "check", ok, "--bind", "nope"]).err).toContain('flags: --bind: must be an IP address');
    expect(corral(["config", "check", ok], { CORRAL_NODE_BIND: "nope" }).err).toContain('env: CORRAL_NODE_BIND: must be an IP address');
    expect(corral(["config", "check", ok, "--bind", "::1"]).code).toBe(0);
  });

  test("the ok line lists where the node would listen, flags included", () => {
    const f = configFile(`[node]\nname = "n2"\n`);
    const r = corral(["config", "check", f, "--ports", "7800", "--dns-port", "9053"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("listeners: http 127.0.0.1:7800, dns 127.0.0.1:9053 (udp+tcp), invoke 127.0.0.1:7801\n");
  });

  test("environment overrides are checked as start checks them", () => {
    const f = configFile(`[node]\nname = "n1"\n`);
    expect(corral(["config", "check", f]).code).toBe(0);
    const badPort = corral(["config", "check", f], { CORRAL_NODE_HTTP_PORT: "seventy" });
    expect(badPort.code).toBe(2);
    expect(badPort.err).toContain('env: CORRAL_NODE_HTTP_PORT: expected an integer, got "seventy"');
    const typo = corral(["config", "check", f], { CORRAL_NODE_HTTP_PROT: "7700" });
    expect(typo.code).toBe(2);
    expect(typo.err).toContain("env: CORRAL_NODE_HTTP_PROT: unknown variable (did you mean CORRAL_NODE_HTTP_PORT?)");
    const badDns = corral(["config", "check", f], { CORRAL_PLUGINS_DNS_PORT: "99999" });
    expect(badDns.code).toBe(2);
    expect(badDns.err).toContain("env: CORRAL_PLUGINS_DNS_PORT:");
    // An override that makes a bad file good counts too.
    const noName = configFile(`[node]\nname = "-bad"\n`);
    expect(corral(["config", "check", noName]).code).toBe(2);
    expect(corral(["config", "check", noName], { CORRAL_NODE_NAME: "good" }).code).toBe(0);
  });

  test("TLS files start cannot read are refused by the check too", () => {
    const f = configFile(`[node]\nname = "n1"\n[tls]\ncert_file = "/nonexistent/cert.pem"\nkey_file = "/nonexistent/key.pem"\n`);
    const check = corral(["config", "check", f]);
    expect(check.code).toBe(2);
    expect(check.err).toContain(`${f}:4: tls.cert_file: cannot read /nonexistent/cert.pem: ENOENT`);
    expect(check.err).toContain(`${f}:5: tls.key_file: cannot read /nonexistent/key.pem: ENOENT`);
    const start = corral(["dev", "--config", f, "--data-dir", join(tempDir(), "d")]);
    expect(start.code).toBe(2);
    expect(start.err).toBe(check.err);
  });

  test("the role the file implies, or --role", () => {
    const agent = configFile(`[agent]\nleaders = ["127.0.0.1:7700"]\n`);
    const a = corral(["config", "check", agent]);
    expect(a.code).toBe(2);
    expect(a.err).toContain(`${agent}: cluster.secret: required for the agent role`);
    const agentOk = corral(["config", "check", agent], { CORRAL_CLUSTER_SECRET: "0123456789abcdef0123" });
    expect(agentOk.code).toBe(0);
    expect(agentOk.out).toContain("is a valid agent config (role agent: agent.leaders is set;");

    const leader = configFile(`[cluster]\nsecret = "0123456789abcdef0123"\n`);
    expect(corral(["config", "check", leader]).out).toContain("is a valid leader config (role leader: cluster.secret is set;");
    const leaderAsAgent = corral(["config", "check", leader, "--role", "agent"]);
    expect(leaderAsAgent.code).toBe(2);
    expect(leaderAsAgent.err).toContain("agent.leaders: an agent needs at least one leader");

    const dev = configFile(`[node]\nname = "laptop"\n`);
    expect(corral(["config", "check", dev]).out).toContain("is a valid dev config (role dev:");
    expect(corral(["config", "check", dev, "--role", "leader"]).err).toContain("cluster.secret: required for the leader role");
    // Leaders from the environment make it an agent file as well.
    expect(corral(["config", "check", dev], { CORRAL_AGENT_LEADERS: "127.0.0.1:7700" }).err).toContain("required for the agent role");
  });
});
