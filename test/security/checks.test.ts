// Health checks are not a file or network oracle (docs/security.md "Health
// checks"). The prober is the node itself — root, holding the data dir — and
// Bun's fetch reads file: and data: URLs, so an HTTP check on
// file:///<data_dir>/cluster-secret put the secret in the check's Output for
// any reader. Now: registration refuses every scheme but http/https (400),
// the prober refuses them again for every URL it fetches, redirects are
// followed by hand (http/https only, at most 10), Output stays capped, and
// `[plugins.discovery] hide_check_output` blanks Output for readers without
// write on the check's service. Exec (Args) checks, when turned on, run on a
// root agent as `[plugins.health] exec_check_user` (nobody), not as root.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, devSecretOf, freePort, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { IS_ROOT, uidOf } from "./helpers-workload.ts";
import { ACL_CONFIG, call, tokenWith } from "../acl/helpers.ts";
import { httpProbe, httpInit, type HttpProbeSpec } from "../../core/checks/probes.ts";

const PLUGINS = `[plugins]\nenabled = ["probe", "discovery", "health", "authz"]\nwatch = false\n\n[plugins.health]\nmin_interval = "100ms"\n`;

let dev: CorralProcess;
let server: ReturnType<typeof Bun.serve>;
let app: string;

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      const to = (location: string) => new Response(null, { status: 302, headers: { location } });
      switch (path) {
        case "/to-file": return to("file:///etc/passwd");
        case "/to-secret": return to(`file://${dev.dataDir}/cluster-secret`);
        case "/to-data": return to("data:text/plain,data-url-content-7f3a");
        case "/to-ftp": return to("ftp://127.0.0.1/etc/passwd");
        case "/loop": return to("/loop");
        case "/to-ok": return to("/ok");
        case "/big": return new Response("x".repeat(100_000));
        default: return new Response("fine");
      }
    },
  });
  app = `http://127.0.0.1:${server.port}`;
  dev = await startCorral({ role: "dev", config: PLUGINS.replace(', "authz"', "") });
}, 30_000);

afterAll(async () => {
  server.stop(true);
  await killAll();
});

const put = (url: string, path: string, body: unknown, token?: string) => call(url, "PUT", path, token, body);

/** The check's Output and Status once it has run (Output not empty). */
async function ranCheck(url: string, id: string, token?: string): Promise<{ Output: string; Status: string }> {
  return eventually(async () => {
    const checks = (await call(url, "GET", "/v1/agent/checks", token)).body;
    const c = checks?.[id];
    return c && c.Output !== "" && c;
  }, 15_000, 100);
}

describe("registration", () => {
  test("an HTTP check on anything but http:// or https:// is refused with a 400, as a service check and as an agent check", async () => {
    const secretUrl = `file://${dev.dataDir}/cluster-secret`;
    for (const url of [secretUrl, "file:///etc/shadow", "FILE:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "data:text/plain,hi", "s3://bucket/key", "blob:x", "not a url", "http://"]) {
      const svc = await put(dev.url, "/v1/agent/service/register", { Name: "oracle", Port: 1, Check: { HTTP: url, Interval: "1s" } });
      expect(svc.status, url).toBe(400);
      expect(String(svc.body), url).toMatch(/HTTP check URL/);
      const chk = await put(dev.url, "/v1/agent/check/register", { Name: "oracle-check", HTTP: url, Interval: "1s" });
      expect(chk.status, url).toBe(400);
    }
    const checks = (await getJson(dev.url + "/v1/agent/checks")).body;
    expect(JSON.stringify(checks)).not.toContain(devSecretOf(dev.dataDir));
    expect(Object.keys(checks)).toEqual([]);
    // http and https are fine.
    expect((await put(dev.url, "/v1/agent/check/register", { CheckID: "fine", Name: "fine", HTTP: `${app}/ok`, Interval: "1s" })).status).toBe(200);
    await put(dev.url, "/v1/agent/check/deregister/fine", undefined);
  });
});

describe("probing", () => {
  const spec = (url: string): HttpProbeSpec => ({ kind: "http", url, method: "GET", headers: [], tlsSkipVerify: false });

  test("the prober itself refuses other schemes (a definition that came in some other way)", async () => {
    // base64 of "data-url-content-7f3a": the content must not show, the URL may.
    for (const url of ["file:///etc/passwd", "data:text/plain;base64,ZGF0YS11cmwtY29udGVudC03ZjNh"]) {
      const r = await httpProbe(spec(url), httpInit(spec(url)), 2000, 4096);
      expect(r.status, url).toBe("critical");
      expect(r.output, url).not.toContain("root:");
      expect(r.output, url).not.toContain("data-url-content-7f3a");
      expect(r.output, url).not.toContain(" Output: ");
      expect(r.output, url).toContain("only http:// and https://");
    }
  });

  test("redirects to file:, data: or ftp: yield no content; http redirects are followed, at most 10", async () => {
    const secret = devSecretOf(dev.dataDir);
    const ids = ["to-file", "to-secret", "to-data", "to-ftp", "loop", "to-ok"];
    for (const id of ids) {
      const r = await put(dev.url, "/v1/agent/check/register", { CheckID: id, Name: id, HTTP: `${app}/${id}`, Interval: "100ms", Timeout: "2s" });
      expect(r.status, id).toBe(200);
    }
    for (const id of ["to-file", "to-secret", "to-data", "to-ftp"]) {
      const c = await ranCheck(dev.url, id);
      expect(c.Status, id).toBe("critical");
      expect(c.Output, id).not.toContain("root:");
      expect(c.Output, id).not.toContain(secret);
      expect(c.Output, id).not.toContain("data-url-content-7f3a");
      expect(c.Output, id).toContain("redirect refused");
    }
    const loop = await ranCheck(dev.url, "loop");
    expect(loop.Status).toBe("critical");
    expect(loop.Output).toContain("stopped after 10 redirects");
    const ok = await eventually(async () => {
      const c = await ranCheck(dev.url, "to-ok");
      return c.Status === "passing" && c;
    }, 15_000);
    expect(ok.Output).toContain("Output: fine");
    // Consul's DisableRedirects: the 302 itself is the answer.
    expect((await put(dev.url, "/v1/agent/check/register", { CheckID: "no-follow", Name: "no-follow", HTTP: `${app}/to-ok`, DisableRedirects: true, Interval: "100ms" })).status).toBe(200);
    const noFollow = await ranCheck(dev.url, "no-follow");
    expect(noFollow.Status).toBe("critical");
    expect(noFollow.Output).toContain(": 302 ");
    await put(dev.url, "/v1/agent/check/deregister/no-follow", undefined);
    for (const id of ids) await put(dev.url, `/v1/agent/check/deregister/${id}`, undefined);
  }, 60_000);

  test("Output is capped at output_max_size (4 KiB) of the body", async () => {
    await put(dev.url, "/v1/agent/check/register", { CheckID: "big", Name: "big", HTTP: `${app}/big`, Interval: "100ms" });
    const c = await ranCheck(dev.url, "big");
    expect(c.Output.length).toBeLessThanOrEqual(4096 + 200);
    expect(c.Output).toContain("x".repeat(4000));
    await put(dev.url, "/v1/agent/check/deregister/big", undefined);
  }, 30_000);
});

describe.skipIf(!IS_ROOT)("exec checks on a root agent", () => {
  test("run as exec_check_user (nobody) and read nothing of the data dir", async () => {
    const parent = tempDir("corral-sec-checks-");
    chmodSync(parent, 0o755); // as /var/lib: only the data dir's own modes protect it
    const n = await startCorral({ role: "dev", dataDir: join(parent, "data"), config: PLUGINS.replace('"health"', '"health"').replace("[plugins.health]\n", "[plugins.health]\nenable_exec_checks = true\n").replace(', "authz"', "") });
    const dd = n.dataDir;
    const script = `id -u; cat ${dd}/cluster-secret; head -c 16 ${dd}/state.db; ls ${dd}; echo end`;
    const r = await put(n.url, "/v1/agent/check/register", { CheckID: "grab", Name: "grab", Args: ["/bin/sh", "-c", script], Interval: "100ms" });
    expect(r.status).toBe(200);
    const c = await eventually(async () => {
      const x = await ranCheck(n.url, "grab");
      return x.Output.includes("end") && x;
    }, 15_000);
    expect(c.Output.split("\n")[0]).toBe(String(uidOf("nobody")));
    expect(c.Output).not.toContain(devSecretOf(dd));
    expect(c.Output).not.toContain("SQLite format 3");
    expect(c.Output).not.toMatch(/^(state\.db|cluster-secret)$/m); // no listing
    expect(c.Output).toContain("Permission denied");
  }, 60_000);
});

describe("hide_check_output", () => {
  test("readers without service:write see an empty Output; writers and management see it", async () => {
    const n = await startCorral({ role: "dev", config: `${ACL_CONFIG}${PLUGINS}\n[plugins.discovery]\nhide_check_output = true\n` });
    const boot = await getJson(n.url + "/v1/acl/bootstrap", { method: "PUT" });
    const node = { proc: n, url: n.url, management: boot.body.SecretID as string };
    const reg = await put(n.url, "/v1/agent/service/register", { Name: "web", Port: server.port, Check: { CheckID: "web-ok", HTTP: `${app}/ok`, Interval: "100ms" } }, node.management);
    expect(reg.status).toBe(200);
    const reader = await tokenWith(node, "web-reader", `service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }`);
    const writer = await tokenWith(node, "web-writer", `service "web" { policy = "write" }\nnode_prefix "" { policy = "read" }`);
    await eventually(async () => (await call(n.url, "GET", "/v1/health/checks/web", node.management)).body?.[0]?.Output?.includes("fine"), 15_000);

    const outputs = async (token: string) => {
      const checks = (await call(n.url, "GET", "/v1/health/checks/web", token)).body;
      const entries = (await call(n.url, "GET", "/v1/health/service/web", token)).body;
      const state = (await call(n.url, "GET", "/v1/health/state/any", token)).body;
      const agent = (await call(n.url, "GET", "/v1/agent/checks", token)).body;
      return [
        checks[0].Output,
        entries[0].Checks.find((c: any) => c.CheckID === "web-ok").Output,
        state.find((c: any) => c.CheckID === "web-ok").Output,
        agent["web-ok"]?.Output,
      ];
    };
    expect(await outputs(reader.secret)).toEqual(["", "", "", ""]);
    for (const o of await outputs(writer.secret)) expect(o).toContain("fine");
    for (const o of await outputs(node.management)) expect(o).toContain("fine");
  }, 60_000);
});

describe("hide_check_output through an agent", () => {
  test("the agent blanks Output in what its leader answered, for a reader without service:write", async () => {
    const leaderPort = await freePort();
    const secret = "sec-checks-agent-secret-0123";
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n\n${ACL_CONFIG}` });
    const boot = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
    const node = { proc: leader, url: leader.url, management: boot.body.SecretID as string };
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-checks"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}\n[plugins.health]\nmin_interval = "100ms"\n\n[plugins.discovery]\nhide_check_output = true\n`,
    });
    await eventually(async () => (await call(leader.url, "GET", "/v1/nodes", node.management)).body?.length === 1, 15_000);
    const reg = await put(agent.url, "/v1/agent/service/register", { Name: "api", Port: server.port, Check: { CheckID: "api-ok", HTTP: `${app}/ok`, Interval: "100ms" } }, node.management);
    expect(reg.status).toBe(200);
    const reader = await tokenWith(node, "api-reader", `service "api" { policy = "read" }\nnode_prefix "" { policy = "read" }`);
    const writer = await tokenWith(node, "api-writer", `service "api" { policy = "write" }\nnode_prefix "" { policy = "read" }`);
    // The leader's copy has the Output (it is the agent's setting that hides it).
    await eventually(async () => (await call(leader.url, "GET", "/v1/health/checks/api", reader.secret)).body?.[0]?.Output?.includes("fine"), 20_000);
    const viaAgent = async (token: string) => (await call(agent.url, "GET", "/v1/health/checks/api", token)).body[0].Output;
    expect(await viaAgent(reader.secret)).toBe("");
    expect(await viaAgent(writer.secret)).toContain("fine");
    await agent.kill();
    await leader.kill();
  }, 60_000);
});
