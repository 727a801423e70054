// The task folder (/local in the container) handed to the container's user.
//
// The agent writes into a container task's folder before it knows who the
// container runs as (that is in the image, known once it is pulled): the
// workload identity (secrets/corral_token, 0400), a dispatch payload,
// rendered templates, artifacts, the folders on the way to volume mounts.
// All root's, so a container running as uid 1000 could neither write to
// /local nor read its own token. Once the user is resolved, everything in
// the folder is given to it (lchown: links themselves, never what they
// point to), as exec does for its task user (plugins/exec/dirs.ts). Three
// things are not:
//   - volume mounts inside the folder (host volumes, the operator's data,
//     shared by other tasks and allocations): their mount points and what is
//     under them keep their owners, as with Nomad (the volume's own
//     permissions decide);
//   - anything outside the folder: the allocation folder, its logs and the
//     other tasks' folders stay the agent's. (Nomad's docker driver makes
//     its shared alloc/ folder world-writable; corral does not bind the
//     allocation folder into containers at all.);
//   - a regular file with more than one name (hard links): another name
//     may be outside the folder.
// Root containers need nothing: the folder is root's already.
//
// The walk runs once, before the container's first start, while the folder
// is still root's and 0700 (the driver checks): nothing but the agent has
// written in it, so nothing can swap a folder for a link under it during
// the walk (each folder is still checked with lstat before it is entered,
// and the walk is bounded). After it, the agent writes into the folder as
// the user (alloc-runner.ts: artifacts fetched at a restart, template
// renders, the token and payload when an agent takes the task up again),
// through the code that writes exec tasks' folders, which are their users'.
import { lchownSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Entries handed over at most (artifacts are bounded; a task's own files beyond this keep theirs). */
export const MAX_HANDOVER_ENTRIES = 200_000;

/** Mount points strictly under `dir`, from /proc/self/mountinfo text (its octal escapes decoded). Pure. */
export function mountPointsUnder(mountinfo: string, dir: string): Set<string> {
  const out = new Set<string>();
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  for (const line of mountinfo.split("\n")) {
    const field = line.split(" ")[4];
    if (!field) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (point.startsWith(prefix)) out.add(point);
  }
  return out;
}

/**
 * Gives the task folder and what is in it to `owner`, skipping `mounts`
 * (and all below them). Returns how many entries it changed, and whether it
 * stopped at MAX_HANDOVER_ENTRIES.
 */
export function handTaskDirTo(taskDir: string, owner: { uid: number; gid: number }, mounts: ReadonlySet<string>): { entries: number; truncated: boolean } {
  let entries = 0;
  const stack = [taskDir];
  while (stack.length) {
    const dir = stack.pop()!;
    const st = lstatSync(dir);
    if (!st.isDirectory()) continue; // became something else: not entered
    // The folder itself last (below): its owner says the walk is done (the driver walks only a folder root owns).
    if (dir !== taskDir && (st.uid !== owner.uid || st.gid !== owner.gid)) lchownSync(dir, owner.uid, owner.gid);
    entries++;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (mounts.has(path)) continue;
      if (entries >= MAX_HANDOVER_ENTRIES) {
        lchownSync(taskDir, owner.uid, owner.gid);
        return { entries, truncated: true };
      }
      const e = lstatSync(path);
      if (e.isDirectory()) {
        stack.push(path);
        continue;
      }
      // A file with other names may be one of them outside the folder (a link the task made on an
      // earlier run): it keeps its owner.
      if (e.isFile() && e.nlink > 1) continue;
      if (e.uid !== owner.uid || e.gid !== owner.gid) lchownSync(path, owner.uid, owner.gid);
      entries++;
    }
  }
  lchownSync(taskDir, owner.uid, owner.gid);
  return { entries, truncated: false };
}
