// Log lines as a user sees them: readable text on a terminal, JSON when piped
// (for collectors), and --log-format / CORRAL_NODE_LOG_FORMAT / node.log_format
// to choose either way. Real processes; the terminal is a real pty (script(1)).
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, freePort, killAll, startCorral, tempDir, eventually } from "../helpers/proc.ts";

afterAll(killAll);

const TEXT_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  plugin enabled  plugin=[a-z]+ version=[\d.]+\r?$/m;

function jsonLines(out: string): Array<Record<string, unknown>> {
  return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

async function logsOf(opts: { args?: string[]; env?: Record<string, string>; config?: string }): Promise<string> {
  const p = await startCorral({ role: "dev", ...opts });
  await eventually(() => p.output().includes("corral started"), 20_000);
  await p.kill("SIGTERM");
  return p.output();
}

describe("log format", () => {
  test("piped stdout (auto): JSON lines", async () => {
    const out = await logsOf({});
    expect(out).not.toMatch(TEXT_LINE);
    expect(jsonLines(out).some((l) => l.msg === "plugin enabled" && l.level === "info")).toBe(true);
  }, 60_000);

  test("--log-format text: readable lines even when piped", async () => {
    const out = await logsOf({ args: ["--log-format", "text"] });
    expect(out).toMatch(TEXT_LINE);
    expect(jsonLines(out)).toEqual([]);
  }, 60_000);

  test("CORRAL_NODE_LOG_FORMAT=text and node.log_format = \"text\" do the same; the flag wins over both", async () => {
    expect(await logsOf({ env: { CORRAL_NODE_LOG_FORMAT: "text" } })).toMatch(TEXT_LINE);
    expect(await logsOf({ config: `[node]\nlog_format = "text"\n` })).toMatch(TEXT_LINE);
    const flagWins = await logsOf({ env: { CORRAL_NODE_LOG_FORMAT: "text" }, args: ["--log-format", "json"] });
    expect(flagWins).not.toMatch(TEXT_LINE);
    expect(jsonLines(flagWins).length).toBeGreaterThan(0);
  }, 120_000);

  test("a terminal (auto): readable lines", async () => {
    const hasScript = spawnSync("script", ["--version"]).status === 0;
    expect(hasScript).toBe(true); // util-linux script(1) gives the node a real pty
    const port = await freePort();
    const dataDir = join(tempDir(), "data");
    const cfg = join(tempDir(), "corral.toml");
    await Bun.write(cfg, "[plugins.dns]\nport = 0\n[plugins.invoke]\nport = 0\n");
    const cmd = [BUN, ENTRY, "dev", "--http-port", String(port), "--data-dir", dataDir, "--config", cfg].join(" ");
    const child = spawn("script", ["-qec", cmd, "/dev/null"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    try {
      await eventually(() => out.includes("corral started"), 30_000);
    } finally {
      try {
        process.kill(-child.pid!, "SIGTERM"); // script and the node under it
      } catch {
        // already gone
      }
    }
    expect(out).toMatch(TEXT_LINE);
    expect(out).not.toContain('{"time"');
  }, 60_000);

  test("a bad --log-format is a usage error naming the flag", () => {
    const r = spawnSync(BUN, [ENTRY, "dev", "--log-format", "yaml", "--data-dir", join(tempDir(), "d")], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--log-format");
    expect(r.stderr).toContain('"auto"');
  });
});
