// Whether one task runs isolated on this node, pure: the bridge between the
// probe (sandbox-host.ts), the task's identity (users.ts) and the command
// line (sandbox.ts). Raw tasks never are (raw mode is the agent's own
// privileges, unisolated, by design). An exec task is isolated wherever the
// node can; where it cannot, a task that requires isolation (or no
// network) is refused rather than run without it.
import { needsIsolation, type Task, type TaskIdentity } from "../../core/sdk/index.ts";
import type { Isolation } from "./sandbox-host.ts";
import { sandboxCommand } from "./sandbox.ts";

export type TaskSandbox =
  | { kind: "isolated"; command: string; args: string[] }
  | { kind: "plain" }
  | { kind: "refused"; error: string };

export function taskSandbox(iso: Isolation | undefined, task: Task, taskDir: string, who: TaskIdentity, commandFile?: { path: string; real: string }): TaskSandbox {
  if (!who.ok || who.raw) return { kind: "plain" };
  if (iso?.ok && who.switchTo) {
    const argv = sandboxCommand({
      tools: iso.tools, paths: iso.paths, taskDir, runAs: who.switchTo,
      network: task.networkMode ?? "host", command: task.command, args: task.args, ...(commandFile ? { commandFile } : {}),
    });
    return { kind: "isolated", ...argv };
  }
  if (needsIsolation(task)) {
    const why = iso && !iso.ok ? iso.reason : "isolation is not available";
    return { kind: "refused", error: `the task requires isolation${task.networkMode === "none" ? ' (network_mode "none")' : ""} and this node cannot isolate: ${why}` };
  }
  return { kind: "plain" };
}
