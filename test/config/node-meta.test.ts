// Node meta: `[node] meta` in the config (file and CORRAL_NODE_META), and the
// pure merge rules of static and dynamic meta (core/cluster/node-meta.ts),
// with the store's file in a real temp dir.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../core/config/load.ts";
import { applyPatch, effectiveMeta, NODE_META_FILE, NodeMetaStore } from "../../core/cluster/node-meta.ts";

const load = (text: string, env: Record<string, string> = {}) =>
  loadConfig({ role: "dev", file: "corral.toml", text, env, builtinPlugins: ["probe"], defaultName: "h" });

function problems(text: string, env: Record<string, string> = {}): string {
  try {
    load(text, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.keyPath}: ${i.reason}`).join("\n");
  }
  throw new Error("expected a ConfigError");
}

describe("[node] meta", () => {
  test("an inline table in the file; the environment's KEY=VALUE pairs over it", () => {
    expect(load(`[node]\nmeta = { rack = "r1", "cpu.class" = "fast" }\n`).node.meta).toEqual({ rack: "r1", "cpu.class": "fast" });
    expect(load(`[node]\nmeta = { rack = "r1" }\n`, { CORRAL_NODE_META: "rack=r2, zone=a" }).node.meta).toEqual({ rack: "r2", zone: "a" });
    expect(load("").node.meta).toEqual({});
  });

  test("bad keys, values and env pairs are config errors naming the key", () => {
    expect(problems(`[node]\nmeta = { "bad key" = "v" }\n`)).toContain(`node.meta."bad key": a meta key may contain letters`);
    expect(problems(`[node]\nmeta = { rack = 5 }\n`)).toContain("node.meta.rack");
    expect(problems(`[node]\nmeta = { k = "${"x".repeat(513)}" }\n`)).toContain("at most 512");
    expect(problems("", { CORRAL_NODE_META: "rack" })).toContain("KEY=VALUE");
    expect(problems(`[node]\nmeta = { "__proto__" = "x" }\n`)).toContain("reserved");
  });
});

describe("static and dynamic meta", () => {
  test("dynamic over static; a null hides a static key and is dropped when there is none", () => {
    const stat = { rack: "r1", owner: "ops" };
    const dyn = applyPatch(stat, {}, { rack: "r2", zone: "a", owner: null, never: null });
    expect(dyn).toEqual({ rack: "r2", zone: "a", owner: null });
    expect(effectiveMeta(stat, dyn)).toEqual({ rack: "r2", zone: "a" });
    // -unset removes the key whatever set it (a static one stays hidden).
    expect(effectiveMeta(stat, applyPatch(stat, dyn, { rack: null }))).toEqual({ zone: "a" });
    expect(effectiveMeta(stat, applyPatch(stat, dyn, { zone: null }))).toEqual({ rack: "r2" });
  });

  test("the store writes its file before answering and reads it back; a bad file is ignored with a warning", () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-meta-"));
    const a = new NodeMetaStore(dir, { rack: "r1" }, () => {});
    a.apply({ rack: "r2" });
    expect(JSON.parse(readFileSync(join(dir, NODE_META_FILE), "utf8"))).toEqual({ version: 1, meta: { rack: "r2" } });
    expect(new NodeMetaStore(dir, { rack: "r1" }, () => {}).view()).toEqual({ Meta: { rack: "r2" }, Dynamic: { rack: "r2" }, Static: { rack: "r1" } });
    expect(() => a.apply(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, "v"])))).toThrow(RangeError);
    expect(new NodeMetaStore(dir, {}, () => {}).effective()).toEqual({ rack: "r2" }); // the refused change wrote nothing
    writeFileSync(join(dir, NODE_META_FILE), "{ not json");
    const warnings: string[] = [];
    expect(new NodeMetaStore(dir, { rack: "r1" }, (m) => warnings.push(m)).effective()).toEqual({ rack: "r1" });
    expect(warnings).toHaveLength(1);
    expect(existsSync(join(dir, `${NODE_META_FILE}.tmp`))).toBe(false);
  });
});
