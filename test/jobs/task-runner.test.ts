// TaskRunner with real (tiny) processes: restarts by policy, failure past
// the attempts, a batch task completing, SIGTERM then SIGKILL after the
// grace period, an OOM kill by the watchdog, a command that does not exist.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskRunner } from "../../plugins/exec/task-runner.ts";
import { RotatingLog } from "../../plugins/exec/logs.ts";
import { MemoryWatchdog } from "../../plugins/exec/memory.ts";
import { watchdogLimits } from "../../plugins/exec/limits.ts";
import type { Task } from "../../core/scheduler/index.ts";

const BUN = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "corral-task-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runner(command: string, args: string[], opts: { batch?: boolean; attempts?: number; memoryMb?: number; killTimeoutMs?: number; watchdog?: MemoryWatchdog } = {}) {
  const task: Task = { name: "t", driver: "exec", command, args, env: {}, resources: { cpuMhz: 100, memoryMb: opts.memoryMb ?? 256 }, ports: {} };
  const states: string[] = [];
  const r = new TaskRunner({
    allocId: "a", task, batch: opts.batch ?? false, restart: { attempts: opts.attempts ?? 1, intervalMs: 60_000, delayMs: 20, mode: "fail" },
    env: { PATH: process.env.PATH ?? "" }, cwd: dir,
    stdout: new RotatingLog(join(dir, "logs"), "t", "stdout", 1 << 20, 2), stderr: new RotatingLog(join(dir, "logs"), "t", "stderr", 1 << 20, 2),
    killTimeoutMs: opts.killTimeoutMs ?? 2000, limits: watchdogLimits(opts.watchdog ?? new MemoryWatchdog()), now: Date.now,
    onChange: (s) => states.push(`${s.state}${s.failed ? "!" : ""}`), onProcess: () => {},
  });
  return { r, states };
}

describe("task runner", () => {
  test("a failing service restarts by policy, then fails", async () => {
    const { r, states } = runner("/bin/false", [], { attempts: 2 });
    r.start();
    await r.done;
    expect(r.state).toMatchObject({ state: "dead", failed: true, restarts: 2, exitCode: 1 });
    expect(states.filter((s) => s === "running")).toHaveLength(3);
    expect(r.state.events.at(-1)!.type).toBe("Failed");
  });

  test("a batch task that exits 0 completes", async () => {
    const { r } = runner("/bin/true", [], { batch: true });
    r.start();
    await r.done;
    expect(r.state).toMatchObject({ state: "dead", failed: false, restarts: 0, exitCode: 0 });
  });

  test("a missing command fails by policy without crashing", async () => {
    const { r } = runner("/no/such/binary", [], { attempts: 0 });
    r.start();
    await r.done;
    expect(r.state.failed).toBe(true);
    expect(r.state.events.at(-1)!.message).toContain("could not start");
  });

  test("stop: SIGTERM, then SIGKILL after the grace period for a task that ignores it", async () => {
    const { r } = runner(BUN, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { killTimeoutMs: 300 });
    r.start();
    await Bun.sleep(300);
    const t0 = Date.now();
    await r.stop("test");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(r.state).toMatchObject({ state: "dead", failed: false });
    expect(r.state.events.map((e) => e.type)).toContain("Killing");
  });

  test("the watchdog kills a task over its memory and it is reported as OOM", async () => {
    const wd = new MemoryWatchdog();
    const timer = setInterval(() => wd.tick(), 50);
    const { r } = runner(BUN, ["-e", "const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 20)"], { memoryMb: 80, attempts: 0, watchdog: wd });
    r.start();
    await r.done;
    clearInterval(timer);
    expect(r.state).toMatchObject({ state: "dead", failed: true, oom: true, ooms: 1 });
  }, 20_000);
});
