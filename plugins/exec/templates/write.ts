// Writes a rendered template into the task directory, atomically (a temp
// file in the same folder, then rename) and as the task's user. The task
// directory is the task's own and this runs as root: no folder on the way
// may be a symbolic link (checked on each part and again on the real path
// of the parent), the temp file is created anew (O_EXCL), and rename
// replaces a planted link itself, never what it points to.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { randomBytes } from "node:crypto";

export function writeTemplateFile(taskDir: string, destination: string, text: string, perms: string, owner?: { uid: number; gid: number }): void {
  const path = resolve(taskDir, destination);
  const rel = relative(taskDir, path);
  if (rel === "" || rel.startsWith("..") || rel.startsWith("/")) throw new Error(`template destination "${destination}" is outside the task directory`);
  let dir = taskDir;
  for (const part of rel.split("/").slice(0, -1)) {
    dir = join(dir, part);
    if (!existsSync(dir)) {
      mkdirSync(dir, { mode: 0o755 });
      if (owner) chownSync(dir, owner.uid, owner.gid);
    } else if (!lstatSync(dir).isDirectory()) throw new Error(`template destination "${destination}": ${part} is not a directory`);
  }
  const realTask = realpathSync(taskDir);
  const realParent = realpathSync(dirname(path));
  if (realParent !== realTask && !realParent.startsWith(realTask + "/")) throw new Error(`template destination "${destination}" leads outside the task directory`);
  const tmp = join(realParent, `.corral-template-${randomBytes(6).toString("hex")}`);
  const mode = parseInt(perms, 8);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
    if (owner) chownSync(tmp, owner.uid, owner.gid);
    chmodSync(tmp, mode); // stated outright: the umask may have taken bits away
    renameSync(tmp, join(realParent, rel.split("/").at(-1)!));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** KEY=VALUE lines (an env template's output) → variables; blank lines and # comments skipped. */
export function parseEnvLines(text: string): { ok: true; env: Record<string, string> } | { ok: false; error: string } {
  const env: Record<string, string> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = eq > 0 ? line.slice(0, eq).trim() : "";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return { ok: false, error: `line ${i + 1}: not KEY=VALUE` };
    env[key] = line.slice(eq + 1);
  }
  return { ok: true, env };
}
