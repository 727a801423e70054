// The previous release, for upgrade tests: commit 2723b2f (the last commit
// before issue 20's work), checked out from git history into a temporary
// worktree that shares this checkout's node_modules. CI clones have history;
// a shallow clone or a tarball has not, and then the tests that need it are
// skipped with the reason printed (the committed fixture data dir still
// covers "the new binary opens an old data dir").
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "../helpers/proc.ts";

export const PREV_RELEASE = "2723b2f";

export interface PrevTree {
  /** Root of the checkout: its core/main.ts is the previous release's entry. */
  root: string;
  entry: string;
  remove(): void;
}

/** A worktree of the previous release, or the reason there can be none. */
export function prevReleaseTree(): PrevTree | { skip: string } {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  try {
    git("cat-file", "-e", `${PREV_RELEASE}^{commit}`);
  } catch {
    return { skip: `previous release ${PREV_RELEASE} is not in this clone's history (shallow clone?); upgrade-from-history test skipped` };
  }
  const root = join(mkdtempSync(join(tmpdir(), "corral-prev-")), "tree");
  try {
    git("worktree", "add", "--detach", root, PREV_RELEASE);
  } catch (err) {
    return { skip: `cannot check out ${PREV_RELEASE}: ${(err as Error).message.split("\n")[0]}` };
  }
  if (!existsSync(join(root, "node_modules"))) symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  return {
    root,
    entry: join(root, "core/main.ts"),
    remove() {
      try {
        git("worktree", "remove", "--force", root);
      } catch {
        rmSync(root, { recursive: true, force: true });
        try {
          git("worktree", "prune");
        } catch {
          // nothing to prune
        }
      }
      rmSync(dirname(root), { recursive: true, force: true });
    },
  };
}
