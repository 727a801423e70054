// TaskRunner's operator actions with real (tiny) processes: a restart kills
// the process group and starts a new process at once without counting
// against the restart policy (attempts = 0 here: a crash would fail the
// task); a held restart leaves it pending; a signal reaches the process.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskRunner } from "../../plugins/exec/task-runner.ts";
import { RotatingLog } from "../../plugins/exec/logs.ts";
import { MemoryWatchdog } from "../../plugins/exec/memory.ts";
import { watchdogLimits } from "../../plugins/exec/limits.ts";
import type { Task } from "../../core/scheduler/index.ts";
import { alive } from "./cluster-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-task-op-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runner(script: string) {
  const task: Task = { name: "t", driver: "exec", command: "/bin/sh", args: ["-c", script], env: {}, resources: { cpuMhz: 100, memoryMb: 256 }, ports: {} };
  return new TaskRunner({
    allocId: "a", task, batch: false, restart: { attempts: 0, intervalMs: 60_000, delayMs: 20, mode: "fail" },
    env: { PATH: process.env.PATH ?? "" }, cwd: dir,
    stdout: new RotatingLog(join(dir, "logs"), "t", "stdout", 1 << 20, 2), stderr: new RotatingLog(join(dir, "logs"), "t", "stderr", 1 << 20, 2),
    killTimeoutMs: 1000, limits: watchdogLimits(new MemoryWatchdog()), now: Date.now, onChange: () => {}, onRecord: () => {},
  });
}

const LOOP = "trap 'exit 0' TERM; while :; do sleep 0.05; done";

describe("operator actions on a task", () => {
  test("restart: a new process, the old one gone, not counted by the restart policy", async () => {
    const r = runner(LOOP);
    r.start();
    const first = r.pid!;
    expect(await r.restart("test restart")).toBe(true);
    expect(r.state.state).toBe("running");
    expect(r.pid).not.toBe(first);
    expect(alive(first)).toBe(false);
    expect(r.state.restarts).toBe(1);
    expect(r.state.failed).toBe(false);
    // attempts = 0: had the exit gone through the restart policy, the task would be dead and failed by now.
    expect(await r.restart("again")).toBe(true);
    expect(r.state).toMatchObject({ state: "running", failed: false, restarts: 2 });
    await r.stop("done");
  });

  test("held restart: pending until started again; a task not running is not restarted", async () => {
    const r = runner(LOOP);
    expect(await r.restart("nothing yet")).toBe(false);
    r.start();
    const first = r.pid!;
    expect(await r.restart("hold", true)).toBe(true);
    expect(r.state.state).toBe("pending");
    expect(r.pid).toBeUndefined();
    expect(alive(first)).toBe(false);
    r.start();
    expect(r.state.state).toBe("running");
    await r.stop("done");
    expect(await r.restart("after stop")).toBe(false);
    expect(r.signal("SIGUSR1")).toBe(false);
  });

  test("signal: reaches the task's process, which traps it", async () => {
    const out = join(dir, "usr1");
    const r = runner(`trap 'echo got >> ${out}' USR1; ${LOOP}`);
    r.start();
    await Bun.sleep(200); // the shell has set its trap
    expect(r.signal("SIGUSR1")).toBe(true);
    for (let i = 0; i < 50 && !readFileSync(out, { flag: "a+" }).toString().includes("got"); i++) await Bun.sleep(50);
    expect(readFileSync(out, "utf8")).toContain("got");
    expect(r.state.state).toBe("running");
    expect(r.state.events.at(-1)!.type).toBe("Signaling");
    await r.stop("done");
  });
});
