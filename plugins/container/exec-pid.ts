// The process a `runc exec` starts inside a container, so that ending the
// exec ends it too. Killing runc is not enough: the process is not runc's
// child but a grandchild re-parented inside the container, so it outlives a
// SIGKILLed runc (a pipe session whose client left, a one-shot command past
// its time limit: both used to stay running in the container). runc writes
// its host pid to the file given with --pid-file; runc's nsexec makes it a
// session (hence group) leader, so killing its group from the host ends it
// and what it started.
import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface InsideProcess {
  /** SIGKILL the process's group; call while runc still runs (its pid cannot have been reused then). */
  kill(): void;
  /** runc ended: forget the pid (and remove its file). */
  release(): void;
}

/** A fresh pid file under `dir` (private to the driver) and the handle on the process it will name. */
export function execPidFile(dir: string): { path: string; inside: InsideProcess } {
  const path = join(dir, `${randomUUID()}.pid`);
  let released = false;
  const release = () => {
    released = true;
    rmSync(path, { force: true });
  };
  return {
    path,
    inside: {
      kill() {
        if (released) return;
        let pid = NaN;
        try {
          pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
        } catch {
          // not started yet (runc writes it once the process runs): killing runc is all there is to do
        }
        if (Number.isInteger(pid) && pid > 1) {
          for (const target of [-pid, pid]) {
            try {
              process.kill(target, "SIGKILL");
            } catch {}
          }
        }
        release();
      },
      release,
    },
  };
}
