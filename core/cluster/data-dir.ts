// The data dir holds the state (KV values in clear, hashed tokens), the Raft
// log and, on dev nodes, the cluster secret: nobody but the node's user may
// read it (docs/security.md, "Files"). Two halves:
//   - the process umask becomes 077 before anything is written, so every file
//     corral or SQLite creates later (state.db-wal and -shm, snapshots, temp
//     files) is born 0600 and every directory 0700, whatever umask the
//     operator's shell or service manager left;
//   - on start, what an older corral (or a loose umask) left behind is
//     chmodded: an upgrade fixes an old data dir.
// The data dir itself is 0711 (traversable, not listable) so that tasks the
// exec plugin runs as another user reach their own allocation directory by
// path. The exec plugin's own subtree (`exec/`) is left to that plugin: it
// holds task-owned files whose modes it sets itself; so is the container
// driver's (`container/`: image root file systems, whose modes are the
// images' own and whose top folder is private).
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const DATA_DIR_MODE = 0o711;
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** Umask under which new files are 0600 and new directories 0700. */
export const PRIVATE_UMASK = 0o077;

/** Subtrees of the data dir whose modes their owner sets (see the header). */
const OWNED_ELSEWHERE = new Set(["exec", "container"]);

/** Makes everything written from now on private to this user. Call before touching the disk. */
export function restrictUmask(): void {
  process.umask(PRIVATE_UMASK);
}

export interface SecuredDataDir {
  /** Paths whose mode was narrowed (for the start-up warning). */
  changed: string[];
  /** Paths whose mode could not be changed (owned by another user), with the error. */
  failed: string[];
}

/**
 * Creates the data dir if needed and brings the modes of what it holds to
 * 0600 (files) and 0700 (directories). Symlinks inside are not followed
 * (chmod would change their target); the data dir itself may be one.
 */
export function secureDataDir(dataDir: string): SecuredDataDir {
  restrictUmask();
  const created = mkdirSync(dataDir, { recursive: true, mode: DATA_DIR_MODE }) !== undefined;
  const out: SecuredDataDir = { changed: [], failed: [] };
  // A new one was only narrowed by the umask: not worth a warning.
  setMode(dataDir, statSync(dataDir).mode, DATA_DIR_MODE, created ? { changed: [], failed: out.failed } : out);
  for (const name of readdirSync(dataDir)) {
    if (OWNED_ELSEWHERE.has(name)) continue;
    securePath(join(dataDir, name), out);
  }
  return out;
}

function securePath(path: string, out: SecuredDataDir): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st || st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    setMode(path, st.mode, PRIVATE_DIR_MODE, out);
    for (const name of readdirSync(path)) securePath(join(path, name), out);
  } else if (st.isFile()) {
    setMode(path, st.mode, PRIVATE_FILE_MODE, out);
  }
}

function setMode(path: string, current: number, mode: number, out: SecuredDataDir): void {
  if ((current & 0o7777) === mode) return;
  try {
    chmodSync(path, mode);
    out.changed.push(path);
  } catch (err) {
    // Not ours to change (another user's file): say so, but do not refuse to start over it.
    out.failed.push(`${path}: ${(err as Error).message}`);
  }
}
