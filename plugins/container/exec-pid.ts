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

/** How long a kill waits for runc to write the pid file of a process that is starting. */
const PID_FILE_WAIT_MS = 2000;
const PID_FILE_POLL_MS = 20;

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined; // not written yet
  }
}

function killGroupAndLeader(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {}
  }
}

export interface InsideProcess {
  /**
   * SIGKILL the process's group, then call `then` (which kills runc). Called
   * while runc still runs, so the pid cannot have been reused. runc writes
   * the file only after the process has started (its first output can come
   * before), so a kill that finds no file waits for it a little, runc alive.
   */
  kill(then?: () => void): void;
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
      kill(then) {
        const deadline = Date.now() + PID_FILE_WAIT_MS;
        const attempt = () => {
          const pid = released ? undefined : readPid(path);
          if (pid === undefined && !released && Date.now() < deadline) {
            setTimeout(attempt, PID_FILE_POLL_MS);
            return;
          }
          if (pid !== undefined) killGroupAndLeader(pid);
          release();
          then?.();
        };
        attempt();
      },
      release,
    },
  };
}
