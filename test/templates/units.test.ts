// Pure parts of task templates: the engine's data filters and collections,
// its refusal to read files, env lines, the atomic file write's refusals,
// and that a template change replaces allocations and needs a v2 entry.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createEngine, depId, templateError, type DepValue, type TemplateDep } from "../../core/templates/engine.ts";
import { parseEnvLines, writeTemplateFile } from "../../plugins/exec/templates/write.ts";
import { tasksUpdated } from "../../core/scheduler/update-kind.ts";
import { specNeedsV2 } from "../../core/state/domains/jobs-commands.ts";
import { parseJobSpec } from "../../core/scheduler/index.ts";
import { tempDir } from "../helpers/proc.ts";

const data: Record<string, DepValue> = {
  "kv:cfg/x": { ok: true, value: "X" },
  "kv:cfg/none": { ok: false, absent: "Missing: kv.block(cfg/none)" },
  "kvtree:cfg/": { ok: true, value: [{ Key: "a", Value: "1" }, { Key: "sub/b", Value: "2" }] },
  "service:db": { ok: true, value: [{ Address: "10.0.0.1", Port: 5432 }, { Address: "10.0.0.2", Port: 5433 }] },
  "var:jobs/j/db": { ok: true, value: { pw: "s3cret" } },
};
const engine = createEngine((d: TemplateDep) => data[depId(d)]);
const render = (t: string) => engine.liquid.parseAndRender(t, engine.globals);

describe("template engine", () => {
  test("the mapping table's forms render", async () => {
    expect(await render(`{{ "cfg/x" | key }}|{{ "cfg/none" | key_or_default: "d" }}`)).toBe("X|d");
    expect(await render(`{% for p in ls["cfg/"] %}{{ p.Key }}={{ p.Value }};{% endfor %}`)).toBe("a=1;");
    expect(await render(`{% for p in tree["cfg/"] %}{{ p.Key }}={{ p.Value }};{% endfor %}`)).toBe("a=1;sub/b=2;");
    expect(await render(`{% for s in service["db"] %}{{ s.Address }}:{{ s.Port }},{% endfor %}`)).toBe("10.0.0.1:5432,10.0.0.2:5433,");
    expect(await render(`{% assign dbs = "db" | service %}{{ dbs | size }}`)).toBe("2");
    expect(await render(`{{ "jobs/j/db" | var: "pw" }}`)).toBe("s3cret");
  });

  test("a missing key is an error naming it", async () => {
    await expect(render(`{{ "cfg/none" | key }}`)).rejects.toThrow();
  });

  test("templates read no files: include, render and layout are refused at parse", async () => {
    for (const t of [`{% include "package.json" %}`, `{% render "/etc/hostname" %}`, `{% layout "/etc/hostname" %}`, `{% liquid\ninclude "package.json"\n%}`]) {
      expect(templateError(t)).toContain("templates read no files");
      await expect(render(t)).rejects.toThrow("templates read no files");
    }
  });
});

describe("env lines and file writes", () => {
  test("KEY=VALUE lines, comments and blanks skipped; anything else refused", () => {
    expect(parseEnvLines("A=1\n# c\n\nB = two=2\n")).toEqual({ ok: true, env: { A: "1", B: " two=2" } });
    expect(parseEnvLines("not a line").ok).toBe(false);
  });

  test("written atomically with perms; a symbolic link on the way is refused, one at the destination replaced", () => {
    const dir = tempDir("corral-tpl-write-");
    const outside = tempDir("corral-tpl-outside-");
    writeTemplateFile(dir, "local/a.conf", "one", "0640");
    expect(readFileSync(join(dir, "local/a.conf"), "utf8")).toBe("one");
    expect(statSync(join(dir, "local/a.conf")).mode & 0o777).toBe(0o640);
    symlinkSync(outside, join(dir, "escape"));
    expect(() => writeTemplateFile(dir, "escape/x", "bad", "0644")).toThrow("not a directory");
    writeFileSync(join(outside, "target"), "keep");
    mkdirSync(join(dir, "d"));
    symlinkSync(join(outside, "target"), join(dir, "d/link"));
    writeTemplateFile(dir, "d/link", "new", "0644");
    expect(readFileSync(join(outside, "target"), "utf8")).toBe("keep");
    expect(readFileSync(join(dir, "d/link"), "utf8")).toBe("new");
    expect(() => writeTemplateFile(dir, "../x", "bad", "0644")).toThrow("outside");
  });
});

test("a template change replaces allocations, and a spec with templates goes out as v2", () => {
  const spec = (data: string) => {
    const r = parseJobSpec(JSON.stringify({ id: "j", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", templates: [{ data, destination: "local/x" }] }] }] }), "json");
    if (!r.ok) throw new Error(JSON.stringify(r));
    return r.job;
  };
  const a = spec("a");
  expect(tasksUpdated(a.groups[0]!, spec("b").groups[0]!)).toContain("templates");
  expect(tasksUpdated(a.groups[0]!, spec("a").groups[0]!)).toBeNull();
  expect(specNeedsV2(a)).toBe(true);
  const plain = parseJobSpec(JSON.stringify({ id: "j", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true" }] }] }), "json");
  expect(plain.ok && plain.job.groups[0]!.tasks[0]!.templates).toBeUndefined();
});
