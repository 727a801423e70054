// Task lifecycle coordination (Nomad's client/allocrunner/tasklifecycle), pure:
// given the group's tasks and what each is doing now, which tasks may start
// and which must be stopped. The allocation runner asks after every task
// change and acts on the answer.
//
// Nomad's ordering:
//   prestart   start first. Ephemeral ones (sidecar = false) must exit 0
//              (after their restart attempts) before the main tasks start;
//              sidecars must be running.
//   main       (no lifecycle) start once the prestart phase is done.
//   poststart  start once every main task runs.
//   poststop   start once every main task has stopped (ended by itself,
//              failed, or the allocation was stopped) and the sidecars and
//              poststart tasks were stopped after them.
// A prestart task that fails keeps the main tasks from ever starting (the
// allocation runner fails the allocation, as any failed task does).
import type { Task } from "../../core/sdk/index.ts";

export type Phase = "prestart" | "main" | "poststart" | "poststop";

export interface TaskNow {
  /** The runner was told to start (it may be running, restarting or dead since). */
  launched: boolean;
  state: "pending" | "running" | "dead";
  failed: boolean;
}

export interface LifecycleStep {
  /** Tasks to start now, in the group's order. */
  start: string[];
  /** Tasks to stop now: sidecars and poststart tasks once the main tasks are over. */
  stop: string[];
  /** Tasks that will never run (their phase can no longer come): mark them dead. */
  skip: string[];
}

export function phaseOf(task: Pick<Task, "lifecycle">): Phase {
  return task.lifecycle?.hook ?? "main";
}

/** An ephemeral task runs to completion and is not restarted after it exited 0. */
export function isEphemeral(task: Pick<Task, "lifecycle">): boolean {
  return task.lifecycle !== undefined && !task.lifecycle.sidecar;
}

/**
 * What to do next. `stopping`: the allocation is being stopped (or failed):
 * nothing but poststop tasks starts any more.
 */
export function lifecycleStep(tasks: readonly Pick<Task, "name" | "lifecycle">[], now: ReadonlyMap<string, TaskNow>, stopping: boolean): LifecycleStep {
  const step: LifecycleStep = { start: [], stop: [], skip: [] };
  const get = (name: string): TaskNow => now.get(name) ?? { launched: false, state: "pending", failed: false };
  const of = (phase: Phase) => tasks.filter((t) => phaseOf(t) === phase);
  const prestart = of("prestart");
  const main = of("main");
  const poststart = of("poststart");
  const poststop = of("poststop");

  const mainBegun = main.some((t) => get(t.name).launched);
  const mainOver = mainBegun && main.every((t) => get(t.name).state === "dead" || !get(t.name).launched);
  const anyFailed = tasks.some((t) => get(t.name).failed);

  if (!stopping && !anyFailed) {
    for (const t of prestart) if (!get(t.name).launched) step.start.push(t.name);
    const prestartDone = prestart.every((t) => {
      const s = get(t.name);
      return isEphemeral(t) ? s.state === "dead" && !s.failed : s.state === "running";
    });
    if (prestartDone) for (const t of main) if (!get(t.name).launched) step.start.push(t.name);
    const mainRunning = main.every((t) => get(t.name).launched && get(t.name).state === "running");
    if (mainRunning) for (const t of poststart) if (!get(t.name).launched) step.start.push(t.name);
  }

  // Once the main tasks are over, what ran alongside them goes; then poststop runs.
  const mainDone = mainOver || (mainBegun && stopping && main.every((t) => get(t.name).state === "dead"));
  if (mainDone) {
    for (const t of [...prestart, ...poststart]) {
      const s = get(t.name);
      if (s.launched && s.state !== "dead") step.stop.push(t.name);
    }
    const othersDead = [...prestart, ...main, ...poststart].every((t) => get(t.name).state === "dead" || !get(t.name).launched);
    if (othersDead) for (const t of poststop) if (!get(t.name).launched) step.start.push(t.name);
  }

  // Phases that can no longer come: a stopped or failed allocation whose main tasks never started.
  if ((stopping || anyFailed) && !mainBegun) {
    for (const t of tasks) if (!get(t.name).launched && get(t.name).state !== "dead") step.skip.push(t.name);
  } else if (stopping || anyFailed) {
    for (const t of [...main, ...poststart]) if (!get(t.name).launched && get(t.name).state !== "dead") step.skip.push(t.name);
  }
  return step;
}
