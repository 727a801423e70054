// Several nodes on one machine, from flags and environment alone: a leader
// and an agent with their own HTTP, DNS and invoke ports start side by side
// (neither config file names a plugin port); a listener whose port is taken
// makes start fail (exit 1, no "ready") with an error naming address:port.
import { afterAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { eventually, freePort, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";

afterAll(killAll);

const SECRET = "ports-test-secret-0123456789";
// startCorral gives every node DNS and invoke port 0 unless its config mentions
// these tables; these configs mention them only in a comment, so the ports
// come from the defaults, the flags or the environment.
const NO_PLUGIN_PORTS = "# [plugins.dns] and [plugins.invoke] ports: from flags and env\n";

/** The port a listener logged ("dns listening", "invoke proxy listening"). */
function loggedPort(p: CorralProcess, msg: string): number | undefined {
  for (const line of p.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    const l = JSON.parse(line);
    if (l.msg === msg) return l.port;
  }
  return undefined;
}

function listenTcp(port: number): Promise<Server> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(port, "127.0.0.1", () => res(s));
  });
}

describe("several nodes on one machine", () => {
  test("a leader (--ports) and an agent (--dns-port, env invoke port) start side by side and join", async () => {
    const base = await freePort();
    const leader = await startCorral({
      role: "leader", port: base, args: ["--ports", String(base)],
      config: `${NO_PLUGIN_PORTS}[cluster]\nsecret = "${SECRET}"\n`,
    });
    await eventually(() => loggedPort(leader, "invoke proxy listening") !== undefined, 10_000);
    expect(loggedPort(leader, "dns listening")).toBe(base + 53);
    expect(loggedPort(leader, "invoke proxy listening")).toBe(base + 1);

    const [dnsPort, invokePort] = [await freePort(), await freePort()];
    const agent = await startCorral({
      role: "agent", args: ["--dns-port", String(dnsPort)], env: { CORRAL_PLUGINS_INVOKE_PORT: String(invokePort) },
      config: `${NO_PLUGIN_PORTS}[node]\nname = "side-agent"\n[cluster]\nsecret = "${SECRET}"\n[agent]\nleaders = ["127.0.0.1:${base}"]\nheartbeat = "300ms"\n`,
    });
    await eventually(() => loggedPort(agent, "invoke proxy listening") !== undefined, 10_000);
    expect(loggedPort(agent, "dns listening")).toBe(dnsPort);
    expect(loggedPort(agent, "invoke proxy listening")).toBe(invokePort);
    expect(agent.output()).toContain("corral agent ready");

    const joined = await eventually(async () => (await getJson<any[]>(leader.url + "/v1/nodes")).body.find((n) => n.name === "side-agent"), 15_000);
    expect(joined.status).toBe("ready");
    expect(leader.child.exitCode).toBeNull();
  }, 90_000);

  test("an invoke port in use: exit 1 naming invoke and 127.0.0.1:PORT, no ready line", async () => {
    const port = await freePort();
    const squatter = await listenTcp(port);
    try {
      const p = await startCorral({ role: "dev", args: ["--invoke-port", String(port)], config: NO_PLUGIN_PORTS + "[plugins.dns]\nport = 0\n", waitReady: false });
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain(`corral: cannot start: plugin invoke failed: invoke: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`);
      expect(p.output()).not.toContain("corral dev ready");
    } finally {
      squatter.close();
    }
  }, 60_000);

  test("a DNS port in use (UDP): exit 1 naming dns and 127.0.0.1:PORT/udp", async () => {
    const port = await freePort();
    const u = createSocket("udp4");
    await new Promise<void>((r) => u.bind(port, "127.0.0.1", () => r()));
    try {
      const p = await startCorral({ role: "dev", env: { CORRAL_PLUGINS_DNS_PORT: String(port) }, config: NO_PLUGIN_PORTS + "[plugins.invoke]\nport = 0\n", waitReady: false });
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain(`plugin dns failed: dns: cannot listen on 127.0.0.1:${port}/udp: address already in use (EADDRINUSE)`);
      expect(p.output()).not.toContain("corral dev ready");
    } finally {
      u.close();
    }
  }, 60_000);

  test("the HTTP port in use: exit 1 naming http and 127.0.0.1:PORT", async () => {
    const port = await freePort();
    const squatter = await listenTcp(port);
    try {
      const p = await startCorral({ role: "dev", port, waitReady: false });
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain(`corral: http: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`);
    } finally {
      squatter.close();
    }
  }, 60_000);

  test("bad port flags are config errors naming the flag", async () => {
    const p = await startCorral({ role: "dev", args: ["--ports", "65500"], waitReady: false });
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain("flags: --ports: must be between 1 and 65482");
    const q = await startCorral({ role: "dev", args: ["--dns-port", "70000"], waitReady: false });
    expect(await q.exited).toBe(2);
    expect(q.output()).toMatch(/flags: --dns-port: .*65535/);
  }, 60_000);
});
