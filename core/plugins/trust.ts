// Whether the code in plugins.dir may run as this node (docs/security.md,
// "Local trust"). An external plugin runs in the node's process with all its
// rights, so whoever can write its file, its folder or plugins.dir itself is
// as powerful as the node's user. Refused:
//   - plugins.dir (or a directory above it) owned by another user, or
//     writable by group/others, a sticky one such as /tmp included: others
//     cannot rename what is not theirs there, but they can create a
//     node_modules that a plugin's bare imports resolve through;
//   - a plugin file or folder (and everything in the folder) owned by another
//     user or writable by group/others;
//   - a symlink whose target lies outside plugins.dir.
// "Another user" is anyone but this process's user and root.
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname, join, relative, isAbsolute, sep } from "node:path";

/** Files looked at inside one plugin folder before it is refused as too big to vet. */
const MAX_FILES_PER_PLUGIN = 20_000;

export class UntrustedPluginError extends Error {
  constructor(readonly path: string, readonly problem: string) {
    super(`${path}: ${problem}; refusing to load plugin code from it`);
  }
}

function currentUid(): number | undefined {
  return typeof process.getuid === "function" ? process.getuid() : undefined;
}

/** What is wrong with who owns and who may write st, or undefined. */
export function ownershipProblem(st: Pick<Stats, "uid" | "mode">, uid = currentUid(), allowSticky = false): string | undefined {
  if (uid === undefined) return undefined; // no POSIX owners (Windows): nothing to check
  if (st.uid !== uid && st.uid !== 0) return `owned by uid ${st.uid}, not by this node's user (uid ${uid}) or root`;
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o002) !== 0 && !(allowSticky && sticky)) return "writable by every user (mode " + (st.mode & 0o7777).toString(8) + ")";
  if ((st.mode & 0o020) !== 0 && !(allowSticky && sticky)) return "writable by its group (mode " + (st.mode & 0o7777).toString(8) + ")";
  return undefined;
}

/** Checks plugins.dir and the directories above it; returns its real path. */
export function checkPluginsDir(dir: string): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    throw new UntrustedPluginError(dir, `cannot be resolved (${(err as Error).message})`);
  }
  const st = statSync(real);
  if (!st.isDirectory()) throw new UntrustedPluginError(dir, "is not a directory");
  const own = ownershipProblem(st);
  if (own) throw new UntrustedPluginError(dir, own);
  // Above it: whoever may rename a parent may swap the whole folder, and
  // whoever may create an entry in one (a sticky /tmp included) may put a
  // node_modules, package.json or tsconfig.json there, which a plugin's bare
  // imports ("zod") resolve through: their code would run as this node.
  for (let p = dirname(real); ; p = dirname(p)) {
    const problem = ownershipProblem(statSync(p));
    if (problem) throw new UntrustedPluginError(p, `(a parent of plugins.dir) ${problem}; any user may create a node_modules there that plugin imports would load`);
    if (dirname(p) === p) break;
  }
  return real;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Checks one plugin (a file or folder directly in plugins.dir) and, for a
 * folder, everything in it. Throws UntrustedPluginError naming the path.
 */
export function checkPluginPath(dir: string, path: string): void {
  const root = checkPluginsDir(dir);
  let count = 0;
  const visit = (p: string) => {
    if (++count > MAX_FILES_PER_PLUGIN) throw new UntrustedPluginError(path, `holds more than ${MAX_FILES_PER_PLUGIN} files`);
    const l = lstatSync(p);
    if (l.isSymbolicLink()) {
      let target: string;
      try {
        target = realpathSync(p);
      } catch {
        throw new UntrustedPluginError(p, "is a dangling symlink");
      }
      if (!inside(root, target)) throw new UntrustedPluginError(p, `is a symlink to ${target}, outside plugins.dir`);
      // Inside plugins.dir: check what it points to (a cycle of links ends at the file cap).
      visit(target);
      return;
    }
    const problem = ownershipProblem(l);
    if (problem) throw new UntrustedPluginError(p, problem);
    if (l.isDirectory()) for (const n of readdirSync(p)) visit(join(p, n));
  };
  visit(path);
}
