// Folder ownership and modes that keep a task inside its own folder.
//
// Tasks run as other users (users.ts), and the agent's data dir holds the
// state, the Raft log and, on dev nodes, the cluster secret. The layout
// (agreed for the whole data dir, docs/security.md "Workloads"):
//
//   <data_dir>/                    0711 root  traversable, not listable
//     exec/                        0711 root
//       processes.json             0600 root
//       allocs/                    0711 root
//         <alloc-id>/              0711 root  (CORRAL_ALLOC_DIR)
//           logs/                  0700 root  written and served by the agent
//           tasks/                 0711 root
//             <task>/              0700 the task's user (CORRAL_TASK_DIR, HOME)
//
// A task reaches its own folder by path and nothing else. The allocation
// folder stays the agent's: were it the task's, the task could swap a log
// file for a symlink to the cluster secret, and the agent (root) would
// serve or overwrite the target.
//
// Only a root agent switches users, so only a root agent changes modes.
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
// Readability checks are the core's too (the config file warning): defined there.
export { othersMayRead, untraversable } from "../../core/sdk/index.ts";

export const MODE_TRAVERSE = 0o711;
export const MODE_PRIVATE_DIR = 0o700;
export const MODE_PRIVATE_FILE = 0o600;

function mkdirMode(dir: string, mode: number): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode); // mkdir's mode goes through the umask, and an existing folder keeps its own
}

/** The data dir's entry that stays traversable (the exec driver's; everything else is private). */
export const EXEC_ENTRY = "exec";

/**
 * Makes every entry of `dir` but `except` that the agent owns private to it
 * (files 0600, folders 0700). Entries of other users are not the node's to
 * change (a data dir set to a shared folder by mistake).
 */
function privateEntries(dir: string, except: string): void {
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

/** exec/ and exec/allocs/ traversable (the way down to the task folders), the rest of exec/ private. */
export function prepareExecDir(execDir: string, allocsDir: string): void {
  mkdirMode(execDir, MODE_TRAVERSE);
  privateEntries(execDir, "allocs");
  mkdirMode(allocsDir, MODE_TRAVERSE);
}

/** An allocation's folder, its logs folder and its tasks folder, owned by the agent. */
export function prepareAllocDir(allocDir: string, isolate: boolean): void {
  if (!isolate) {
    mkdirSync(join(allocDir, "logs"), { recursive: true });
    mkdirSync(join(allocDir, "tasks"), { recursive: true });
    return;
  }
  mkdirMode(allocDir, MODE_TRAVERSE);
  mkdirMode(join(allocDir, "logs"), MODE_PRIVATE_DIR);
  mkdirMode(join(allocDir, "tasks"), MODE_TRAVERSE);
}

/** A task's working folder: the task's user's own, nobody else's. */
export function prepareTaskDir(taskDir: string, owner: { uid: number; gid: number } | undefined): void {
  if (!owner) {
    mkdirSync(taskDir, { recursive: true });
    return;
  }
  mkdirMode(taskDir, MODE_PRIVATE_DIR);
  chownSync(taskDir, owner.uid, owner.gid);
}
