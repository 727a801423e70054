// A task's workload identity (core/variables/workload-identity.ts), handed
// to it two ways, as Nomad does: the environment (CORRAL_TOKEN, with
// CORRAL_ADDR to reach this node's API) and the file secrets/corral_token in
// its folder, mode 0400, owned by the task's user. The token reads the job's
// variables and discovers services; it stops working when the allocation stops.
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TOKEN_FILE = "corral_token";

/**
 * Writes the token file and returns the variables for the task's
 * environment ({} when no token could be minted). The folder is the task's
 * own and may hold what it left on an earlier run (this runs as root): a
 * `secrets` that is not a real folder is removed, and the file is created
 * anew (O_EXCL), so a planted link cannot redirect the write.
 */
export function provideIdentity(o: {
  mint?: (allocId: string, task: string) => string;
  apiUrl?: string;
  allocId: string;
  task: string;
  taskDir: string;
  owner?: { uid: number; gid: number };
}): Record<string, string> {
  if (!o.mint) return {};
  const token = o.mint(o.allocId, o.task);
  const dir = join(o.taskDir, "secrets");
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(dir);
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) rmSync(dir, { force: true });
  if (!st || !st.isDirectory()) mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700);
  if (o.owner) chownSync(dir, o.owner.uid, o.owner.gid);
  const file = join(dir, TOKEN_FILE);
  rmSync(file, { force: true });
  writeFileSync(file, token, { mode: 0o400, flag: "wx" });
  chmodSync(file, 0o400); // the umask may have taken bits away, never added: this states the mode outright
  if (o.owner) chownSync(file, o.owner.uid, o.owner.gid);
  return { CORRAL_TOKEN: token, CORRAL_SECRETS_DIR: dir, ...(o.apiUrl ? { CORRAL_ADDR: o.apiUrl } : {}) };
}
