// Who besides its owner may read a file: core warns when the config file
// holding cluster.secret is readable by other users (task users included),
// and the exec plugin checks that task folders can be reached at all.
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Whether users other than the owner (and its group) may read `file`: o+r on it and o+x on every folder above. */
export function othersMayRead(file: string): boolean {
  try {
    if ((statSync(file).mode & 0o004) === 0) return false;
  } catch {
    return false;
  }
  return untraversable(dirname(resolve(file))) === undefined;
}

/** The first folder on the way to `path` (itself included) that others may not traverse, if any. */
export function untraversable(path: string): string | undefined {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = "/" + parts.slice(0, i).join("/");
    try {
      if ((statSync(dir).mode & 0o001) === 0) return dir;
    } catch {
      return dir;
    }
  }
  return undefined;
}
