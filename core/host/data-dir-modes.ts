// The data dir's modes: traversable but not listable, everything in it
// private to the agent except the exec driver's folder, before anything of
// the node runs as another user (exec tasks, exec checks). Core's, through
// core/sdk, since two plugins (exec, health) need it; the layout of the
// exec folder below is plugins/exec/dirs.ts's.
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const MODE_TRAVERSE = 0o711;
export const MODE_PRIVATE_DIR = 0o700;
export const MODE_PRIVATE_FILE = 0o600;

/** The data dir's entry that stays traversable (the exec driver's; everything else is private). */
export const EXEC_ENTRY = "exec";

/**
 * Makes every entry of `dir` but `except` that the agent owns private to it
 * (files 0600, folders 0700). Entries of other users are not the node's to
 * change (a data dir set to a shared folder by mistake).
 */
export function privateEntries(dir: string, except: string): void {
  const me = process.getuid?.();
  for (const name of readdirSync(dir)) {
    if (name === except) continue;
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink() || st.uid !== me) continue;
    if ((st.mode & 0o077) !== 0) chmodSync(path, st.isDirectory() ? MODE_PRIVATE_DIR : MODE_PRIVATE_FILE);
  }
}

/**
 * The data dir traversable but not listable (0711), and what the agent owns
 * in it private, exec/ excepted: run before anything of the node runs as
 * another user (exec tasks, exec checks), in case nothing did it before.
 * A shared folder (sticky bit, like /tmp) is left as it is: the answer says
 * so, for the caller to warn. (Not core/cluster/data-dir-lock.ts lockDataDir,
 * which keeps a second process off the data dir.)
 */
export function closeDataDirToTasks(dataDir: string): string | undefined {
  mkdirSync(dataDir, { recursive: true, mode: MODE_TRAVERSE });
  if ((statSync(dataDir).mode & 0o1000) !== 0) return `data dir ${dataDir} is a shared folder (sticky bit): its mode is left alone; use a folder of its own`;
  chmodSync(dataDir, MODE_TRAVERSE);
  privateEntries(dataDir, EXEC_ENTRY);
  return undefined;
}
