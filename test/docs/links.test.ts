// Docs point only inside the repository (issue 20, point 10): every markdown
// link in README.md and docs/ names a file that exists (anchors allowed, no
// http(s) links: a reader offline or in a fork must be able to follow each),
// and every `path/in/the/repo` a doc names in backticks exists too, unless it
// is a build output git ignores. The README's CLI section names every command.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../helpers/proc.ts";
import { commands } from "../../core/cli/index.ts";

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const TOP_DIRS = new Set(readdirSync(ROOT).filter((d) => !d.startsWith(".") && d !== "node_modules" && statSync(join(ROOT, d)).isDirectory()));

/** The text outside fenced code blocks (shell examples hold URLs of running nodes, not links). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, "");
}

function ignoredByGit(rel: string): boolean {
  try {
    execFileSync("git", ["check-ignore", "-q", rel], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
}

export function brokenLinks(doc: string, text: string): string[] {
  const out: string[] = [];
  for (const m of prose(text).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (target.startsWith("#")) continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      out.push(`${doc}: ${target} points outside the repository`);
      continue;
    }
    const file = resolve(ROOT, dirname(doc), target.split("#")[0]!);
    if (!file.startsWith(ROOT + "/") || !existsSync(file)) out.push(`${doc}: ${target} is not a file in the repository`);
  }
  return out;
}

export function brokenPathMentions(doc: string, text: string): string[] {
  const out: string[] = [];
  for (const m of prose(text).matchAll(/`([^`\s]+)`/g)) {
    const p = m[1]!.replace(/:\d+$/, "");
    if (!/^(\.\.?\/)*[\w.-]+(\/[\w.-]+)+\/?$/.test(p)) continue;
    const inRepoRoot = TOP_DIRS.has(p.split("/")[0]!);
    if (!inRepoRoot && !p.startsWith("../") && !p.endsWith(".md")) continue; // data dir paths, URLs paths, …
    const file = p.startsWith("../") || (!inRepoRoot && !p.includes("/")) ? resolve(ROOT, dirname(doc), p) : resolve(ROOT, p);
    if (!file.startsWith(ROOT + "/")) {
      out.push(`${doc}: \`${p}\` is outside the repository`);
      continue;
    }
    if (!existsSync(file) && !existsSync(resolve(ROOT, dirname(doc), p)) && !ignoredByGit(relative(ROOT, file))) out.push(`${doc}: \`${p}\` is not in the repository`);
  }
  return out;
}

describe("links in README.md and docs/", () => {
  test("every markdown link resolves to a file in the repository; none points outside", () => {
    const broken = DOCS.flatMap((d) => brokenLinks(d, readFileSync(join(ROOT, d), "utf8")));
    expect(broken).toEqual([]);
  });

  test("every repository path named in backticks exists (or is a git-ignored build output)", () => {
    const broken = DOCS.flatMap((d) => brokenPathMentions(d, readFileSync(join(ROOT, d), "utf8")));
    expect(broken).toEqual([]);
  });

  test("the checks catch what they are for", () => {
    expect(brokenLinks("docs/x.md", "[a](https://example.com) [b](nope.md) [c](acl.md#x) [d](#top)")).toEqual([
      "docs/x.md: https://example.com points outside the repository",
      "docs/x.md: nope.md is not a file in the repository",
    ]);
    expect(brokenPathMentions("docs/x.md", "`shared/reference/consul-http-api.md` `core/no-such.ts` `core/cli/index.ts` `../shared/DESIGN.md` `exec/allocs/x`")).toEqual([
      "docs/x.md: `shared/reference/consul-http-api.md` is not in the repository",
      "docs/x.md: `core/no-such.ts` is not in the repository",
      "docs/x.md: `../shared/DESIGN.md` is not in the repository",
    ]);
  });
});

describe("README's CLI section", () => {
  test("names every command", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## The CLI"), readme.indexOf("\n## ", readme.indexOf("## The CLI") + 5));
    const lines = section.split("\n").filter((l) => l.startsWith("corral "));
    const missing = commands.filter((c) => {
      const [first, ...rest] = c.path;
      return !lines.some((l) => {
        const words = l.split(/[\s|]+/);
        return words[1] === first && rest.every((w) => words.includes(w) || l.includes(`${w} `) || l.includes(`${w}|`)) || (c.path.length === 1 && ["dev", "leader", "agent"].includes(first!) && l.startsWith("corral dev | leader | agent"));
      });
    });
    expect(missing.map((c) => c.path.join(" "))).toEqual([]);
  });
});
