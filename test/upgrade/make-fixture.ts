// Regenerates test/fixtures/prev-release/: a dev node of the previous release
// (2723b2f, from git history) writes seed.ts's data, stops (SIGTERM, so
// SQLite checkpoints its WAL), and its data dir is copied here with the
// tokens. Run it only when the previous release changes:
//   npx bun test/upgrade/make-fixture.ts
import { cpSync, rmSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startCorral, tempDir } from "../helpers/proc.ts";
import { prevReleaseTree } from "./prev-release.ts";
import { SEED_ACL_CONFIG, seed } from "./seed.ts";

const tree = prevReleaseTree();
if ("skip" in tree) throw new Error(tree.skip);
try {
  const dataDir = join(tempDir(), "data");
  const node = await startCorral({ role: "dev", entry: tree.entry, dataDir, config: SEED_ACL_CONFIG });
  const tokens = await seed(node.url);
  const code = await node.kill("SIGTERM");
  if (code !== 0) throw new Error(`old node exited ${code}:\n${node.output()}`);
  const out = join(ROOT, "test/fixtures/prev-release");
  rmSync(out, { recursive: true, force: true });
  cpSync(dataDir, join(out, "datadir"), { recursive: true });
  for (const f of readdirSync(join(out, "datadir"), { recursive: true }) as string[]) {
    const p = join(out, "datadir", f);
    if (/-(wal|shm)$/.test(f) || (statSync(p).isFile() && statSync(p).size === 0 && f.endsWith(".lock"))) rmSync(p);
  }
  writeFileSync(join(out, "tokens.json"), JSON.stringify(tokens, null, 2) + "\n");
  console.log(`fixture written to ${out}`);
} finally {
  tree.remove();
}
