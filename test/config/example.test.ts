// config.example.toml must stay true to the code: it parses, validates, equals
// the defaults, and mentions every key (set or commented out) with a comment.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../core/config/load.ts";
import { KEY_KINDS, SECTIONS } from "../../core/config/schema.ts";
import { builtinPlugins } from "../../core/plugins/builtin.ts";
import { discoveryConfigSchema } from "../../plugins/discovery/config.ts";

const EXAMPLE = join(import.meta.dir, "..", "..", "config.example.toml");
const BUILTINS = ["probe", "discovery", "dns", "health", "invoke", "authz", "exec", "ui"];

describe("config.example.toml", () => {
  test("validates and equals the defaults", () => {
    const fromExample = loadConfig({ role: "dev", file: EXAMPLE, env: {}, builtinPlugins: BUILTINS, defaultName: "h" });
    const defaults = loadConfig({ role: "dev", env: {}, builtinPlugins: BUILTINS, defaultName: "h" });
    expect(fromExample.file).toBe(EXAMPLE);
    const { file: _f, ...rest } = fromExample;
    expect(rest).toEqual(defaults);
  });

  test("validates for the leader role once a secret is supplied", () => {
    const c = loadConfig({
      role: "leader",
      file: EXAMPLE,
      env: { CORRAL_CLUSTER_SECRET: "0123456789abcdef" },
      builtinPlugins: BUILTINS,
    });
    expect(c.role).toBe("leader");
  });

  test("every key appears, under its table, with a comment line above it", () => {
    const lines = readFileSync(EXAMPLE, "utf8").split("\n");
    const seen = new Map<string, number>();
    let section = "";
    lines.forEach((line, n) => {
      const header = /^(?:#\s*)?\[([a-z_.]+)\]\s*$/.exec(line); // commented-out plugin tables too
      if (header) {
        section = header[1]!;
        return;
      }
      const kv = /^(?:#\s*)?([a-z_]+)\s*=/.exec(line);
      if (kv && !seen.has(`${section}.${kv[1]}`)) seen.set(`${section}.${kv[1]}`, n);
    });
    for (const s of SECTIONS) {
      for (const k of Object.keys(KEY_KINDS[s])) {
        const at = seen.get(`${s}.${k}`);
        expect(at, `${s}.${k} missing from config.example.toml`).toBeDefined();
        // the line above is a comment that is not itself a commented-out key
        const above = lines[at! - 1]!;
        expect(above.startsWith("# "), `${s}.${k} needs a comment line above it`).toBe(true);
        expect(/^#\s*[a-z_]+\s*=/.test(above)).toBe(false);
      }
    }
    // and nothing that is not a key
    for (const key of seen.keys()) {
      const dot = key.lastIndexOf(".");
      const s = key.slice(0, dot);
      const k = key.slice(dot + 1);
      if (!(s in KEY_KINDS)) continue; // plugin example tables
      expect(k in KEY_KINDS[s as keyof typeof KEY_KINDS], `${key} is not a config key`).toBe(true);
    }
  });

  test("the commented-out plugin example validates when uncommented", () => {
    const text = readFileSync(EXAMPLE, "utf8")
      .split("\n")
      .map((l) => (/^# \[plugins\.[a-z]+\]/.test(l) || /^# [a-z_]+ = /.test(l) ? l.slice(2) : l))
      .join("\n")
      .replace(/^name = .*$/m, "") // commented default examples
      .replace(/^enabled = .*$/m, "");
    const c = loadConfig({
      role: "dev",
      file: "example",
      text,
      env: {},
      builtinPlugins: BUILTINS,
      pluginSchemas: Object.fromEntries(builtinPlugins().map((p) => [p.name, p.configSchema])),
    });
    // Every built-in plugin has its table in the example, and it parses with the plugin's own schema.
    for (const p of builtinPlugins()) {
      expect(Object.keys(c.plugins.settings), `[plugins.${p.name}] missing from config.example.toml`).toContain(p.name);
      expect(p.configSchema.safeParse(c.plugins.settings[p.name]).success).toBe(true);
    }
    expect(c.plugins.settings.probe).toEqual({
      interval: "1s", cpu_total_mhz: 8000, memory_total_mb: 16384, reserved_cpu_mhz: 0, reserved_memory_mb: 0,
    });
    expect(c.plugins.settings.discovery).toEqual({ sync_interval: "30s", max_services_per_node: 1000, max_checks_per_node: 2000, hide_check_output: false });
    expect(discoveryConfigSchema.parse(c.plugins.settings.discovery)).toEqual({ sync_interval: 30_000, max_services_per_node: 1000, max_checks_per_node: 2000, hide_check_output: false });
  });
});
