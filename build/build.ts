// Builds corral's two release artifacts into dist/ (see docs/build.md):
//
//   dist/corral      `bun build --compile` of core/main.ts: one self-contained
//                    executable (Bun runtime + bundle + embedded sourcemap).
//                    Needs nothing beside it; SQLite is bun:sqlite.
//   dist/corral.mjs  esbuild ESM bundle for Node >= 20 and Deno 2. Under Node
//                    it needs better-sqlite3 resolvable from dist/ (a
//                    node_modules in dist/ or any parent folder); under Deno it
//                    uses node:sqlite and needs nothing.
//
// Run: `npx bun build/build.ts` (= `npm run build`). Flags:
//   --only=binary|bundle   build one artifact
//   --outdir=DIR           write somewhere other than dist/
//   --no-bytecode          compile dist/corral without precompiled bytecode
//   --json                 also print one JSON line with the sizes
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeGeneratedAssets } from "../plugins/ui/assets.ts";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ENTRY = join(ROOT, "core/main.ts");

/**
 * Packages the Node bundle must not inline. better-sqlite3 is a native addon
 * loaded with createRequire at run time (core/store/driver.ts); listing it
 * here also keeps esbuild from following it should the call ever become
 * statically visible. bun:sqlite and node:sqlite are already hidden behind a
 * `new Function("s", "return import(s)")` in the driver, but are listed for
 * the same reason.
 */
export const NODE_EXTERNALS = ["better-sqlite3", "bun:sqlite", "node:sqlite"];

/**
 * CJS dependencies bundled into ESM (systeminformation, prom-client,
 * dns-packet, ...) call require("os"), require("child_process")...; esbuild
 * routes those through a shim that only works if a `require` is in scope.
 */
const NODE_BANNER =
  'import { createRequire as __corralCreateRequire } from "node:module";\n' +
  "const require = __corralCreateRequire(import.meta.url);";

export interface Artifact {
  name: string;
  path: string;
  bytes: number;
  ms: number;
}

function fmtBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** dist/corral: a standalone executable made by `bun build --compile`. */
export async function buildBinary(outdir: string, opts: { bytecode?: boolean } = {}): Promise<Artifact> {
  const t0 = performance.now();
  const outfile = join(outdir, "corral");
  const args = [
    "build",
    "--compile",
    "--minify",
    // Embedded in the executable (~1 MiB): stack traces point at core/*.ts.
    "--sourcemap",
    // A server binary should not change behaviour because of the folder it is
    // started from: no .env, and no bunfig.toml (which can preload scripts).
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    // Precompiled bytecode: ~+5 MiB, ~55 ms less parse time on every start
    // (`corral version` 80 -> 25 ms). Bytecode needs an explicit ESM format
    // because core/main.ts uses top-level await.
    ...(opts.bytecode === false ? [] : ["--bytecode", "--format=esm"]),
    ENTRY,
    "--outfile",
    outfile,
  ];
  const proc = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`bun build --compile failed (exit ${code}):\n${out}\n${err}`);
  // The map is embedded; bun also writes a copy beside the binary. The
  // artifact is the binary alone, so drop it.
  rmSync(`${outfile}.map`, { force: true });
  return { name: "binary", path: outfile, bytes: statSync(outfile).size, ms: performance.now() - t0 };
}

/** dist/corral.mjs: one ESM file for Node 20+ and Deno 2. */
export async function buildBundle(outdir: string): Promise<Artifact & { topPackages: [string, number][] }> {
  const t0 = performance.now();
  const esbuild = await import("esbuild");
  const outfile = join(outdir, "corral.mjs");
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    external: NODE_EXTERNALS,
    minify: true,
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    banner: { js: NODE_BANNER },
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  for (const f of result.outputFiles) {
    let text = f.text;
    // core/main.ts starts with `#!/usr/bin/env bun`; this file is for node.
    if (f.path === outfile) text = text.replace(/^#!.*\n/, "#!/usr/bin/env node\n");
    writeFileSync(f.path, text);
  }
  chmodSync(outfile, 0o755);
  // Bytes per package in the bundle, to see what the size is made of.
  const perPkg = new Map<string, number>();
  const out = result.metafile.outputs[relative(ROOT, outfile)];
  for (const [input, info] of Object.entries(out?.inputs ?? {})) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    const key = m ? m[1]! : input.split("/").slice(0, 2).join("/");
    perPkg.set(key, (perPkg.get(key) ?? 0) + info.bytesInOutput);
  }
  const topPackages = [...perPkg].sort((a, b) => b[1] - a[1]).slice(0, 8);
  return { name: "bundle", path: outfile, bytes: statSync(outfile).size, ms: performance.now() - t0, topPackages };
}

export async function build(
  opts: { outdir?: string; only?: "binary" | "bundle"; bytecode?: boolean } = {},
): Promise<Artifact[]> {
  const outdir = resolve(ROOT, opts.outdir ?? "dist");
  mkdirSync(outdir, { recursive: true });
  // The dashboard's script and style sheet, bundled into plugins/ui/generated/assets.ts,
  // which both artifacts embed (a checkout bundles them on demand instead; docs/ui.md).
  await writeGeneratedAssets();
  const artifacts: Artifact[] = [];
  if (opts.only !== "bundle") {
    for (const f of ["corral", "corral.map"]) rmSync(join(outdir, f), { force: true });
    artifacts.push(await buildBinary(outdir, { bytecode: opts.bytecode }));
  }
  if (opts.only !== "binary") {
    for (const f of ["corral.mjs", "corral.mjs.map"]) rmSync(join(outdir, f), { force: true });
    artifacts.push(await buildBundle(outdir));
  }
  return artifacts;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const only = flag("only");
  if (only !== undefined && only !== "binary" && only !== "bundle") {
    console.error(`--only must be binary or bundle, not ${only}`);
    process.exit(2);
  }
  try {
    const artifacts = await build({ outdir: flag("outdir"), only, bytecode: !argv.includes("--no-bytecode") });
    for (const a of artifacts) {
      console.log(`${relative(process.cwd(), a.path).padEnd(18)} ${fmtBytes(a.bytes).padStart(10)}  (${a.bytes} bytes, ${Math.round(a.ms)} ms)`);
      const top = (a as { topPackages?: [string, number][] }).topPackages;
      if (top) console.log(`  largest inputs: ${top.map(([k, v]) => `${k} ${fmtBytes(v)}`).join(", ")}`);
    }
    const map = join(resolve(ROOT, flag("outdir") ?? "dist"), "corral.mjs.map");
    if (existsSync(map)) console.log(`  (corral.mjs.map: ${fmtBytes(statSync(map).size)}; node uses it with --enable-source-maps)`);
    if (argv.includes("--json")) {
      console.log(JSON.stringify({ build: Object.fromEntries(artifacts.map((a) => [a.name, { path: a.path, bytes: a.bytes }])) }));
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
