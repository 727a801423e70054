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
// The data dir's own modes (closeDataDirToTasks) are core's
// (core/host/data-dir-modes.ts): exec health checks need them too.
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { MODE_PRIVATE_DIR, MODE_TRAVERSE, privateEntries } from "../../core/sdk/index.ts";

function mkdirMode(dir: string, mode: number): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode); // mkdir's mode goes through the umask, and an existing folder keeps its own
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
