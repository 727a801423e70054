// Reads the module specifiers a TypeScript file names, without the compiler
// (typescript 7 has no JS API): static imports and re-exports (type-only
// too), side-effect imports, `import("x")` in types and dynamic imports.
// Pure: text in, specifiers out; the test does the file walking.

/** Every specifier `source` imports or re-exports, in order of appearance. */
export function importSpecifiers(source: string): string[] {
  // Whole-line comments can quote import lines; drop them. A `//` after code
  // is left alone: it may sit inside a string ("http://...").
  const text = source
    .split("\n")
    .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
    .join("\n");
  const found: Array<{ at: number; spec: string }> = [];
  // `import x from "a"`, `import { a, b } from "a"` over several lines,
  // `export * from "a"`, `export type { T } from "a"`: a statement that starts
  // a line and reaches `from "..."` before any `;`.
  const statement = /^[ \t]*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/gm;
  const bare = /^[ \t]*import\s*["']([^"']+)["']/gm;
  const call = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;
  for (const re of [statement, bare, call]) {
    for (const m of text.matchAll(re)) found.push({ at: m.index ?? 0, spec: m[1]! });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.spec);
}

export type Area = "core" | "sdk" | "builtin-list" | "plugin" | "other";

/** Where a repository-relative path ("core/acl/setup.ts") stands in the plugin boundary. */
export function areaOf(path: string): Area {
  if (path === "core/plugins/builtin.ts") return "builtin-list";
  if (path.startsWith("core/sdk/")) return "sdk";
  if (path.startsWith("core/")) return "core";
  if (path.startsWith("plugins/")) return "plugin";
  return "other";
}

/**
 * Why an import from `from` to `to` (both repository-relative) crosses the
 * plugin boundary, or undefined when it may:
 * - a plugin reaches core only through core/sdk (what external plugins get);
 * - core names plugins only in core/plugins/builtin.ts (the built-in list),
 *   and the SDK names none;
 * - a plugin reaches another plugin only through its contract, the typed
 *   channels of its topics.ts: what two plugins share beyond that is core's
 *   (core/host, core/checks, …, through core/sdk). plugins/container is not a
 *   plugin but the exec driver's container library, so exec may use it.
 */
export function boundaryViolation(from: string, to: string): string | undefined {
  const a = areaOf(from);
  const b = areaOf(to);
  if (a === "plugin" && (b === "core" || b === "builtin-list")) {
    return `plugin imports core outside core/sdk: ${from} -> ${to}`;
  }
  if ((a === "core" || a === "sdk") && b === "plugin") {
    return `core imports a plugin outside core/plugins/builtin.ts: ${from} -> ${to}`;
  }
  if (a === "plugin" && b === "plugin") {
    const [fromPlugin, toPlugin] = [from.split("/")[1], to.split("/")[1]];
    const contract = to.endsWith("/topics.ts");
    const library = fromPlugin === "exec" && toPlugin === "container";
    if (fromPlugin !== toPlugin && !contract && !library) return `plugin imports another plugin's code, not its topics.ts contract: ${from} -> ${to}`;
  }
  return undefined;
}
