// TaskRunner with real (tiny) processes: restarts by policy, failure past
// the attempts, a batch task completing, SIGTERM then SIGKILL after the
// grace period, an OOM kill by the watchdog, a command that does not exist;
// detach leaves the process running and resume adopts it (or restarts by
// policy one that ended meanwhile), with output going straight to the file.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskRunner } from "../../plugins/exec/task-runner.ts";
import { RotatingLog } from "../../plugins/exec/logs.ts";
import { MemoryWatchdog } from "../../plugins/exec/memory.ts";
import { watchdogLimits } from "../../plugins/exec/limits.ts";
import type { Task } from "../../core/scheduler/index.ts";
import type { ProcessEntry, TaskRecord } from "../../plugins/exec/processes.ts";
import { alive } from "./cluster-helpers.ts";
import { startTicksOf } from "../../plugins/exec/exits.ts";

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
    onChange: (s) => states.push(`${s.state}${s.failed ? "!" : ""}`), onRecord: (rec) => records.push(rec),
  });
  const records: TaskRecord[] = [];
  return { r, states, records };
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

  test("detach leaves the task running and writing its log; resume adopts the same pid; its end is then seen and restarted by policy", async () => {
    const a = runner(BUN, ["-e", "let i = 0; setInterval(() => console.log('tick ' + i++), 50)"], { attempts: 3 });
    a.r.start();
    await Bun.sleep(400);
    const pid = a.r.pid!;
    const rec = a.records.at(-1)!;
    expect(rec).toMatchObject({ pid, restarts: 0 });
    a.r.detach();
    await Bun.sleep(300);
    expect(alive(pid)).toBe(true);
    const logFile = join(dir, "logs", "t.stdout.log");
    const before = readFileSync(logFile, "utf8").length;
    await Bun.sleep(300);
    expect(readFileSync(logFile, "utf8").length).toBeGreaterThan(before); // nobody reads a pipe: the task writes the file

    const b = runner(BUN, ["-e", "setInterval(() => {}, 1000)"], { attempts: 3 });
    const entry: ProcessEntry = { allocId: "a", task: "t", ...rec, restarts: 2 };
    b.r.resume(entry, undefined);
    expect(b.r.pid).toBe(pid);
    expect(b.r.state).toMatchObject({ state: "running", restarts: 2 });
    expect(b.r.state.events.at(-1)!.type).toBe("Reattached");
    process.kill(pid, "SIGKILL");
    await eventuallyTrue(() => b.r.state.restarts === 3 && b.r.state.state === "running");
    expect(b.r.pid).not.toBe(pid);
    expect(b.r.state.events.map((e) => e.message).join("\n")).toContain("killed by SIGKILL"); // same agent process: the real exit is known
    await b.r.stop("test");
  }, 20_000);

  test("a batch task that finished while the plugin was off (same agent process) is complete, not restarted", async () => {
    const a = runner(BUN, ["-e", "setTimeout(() => process.exit(0), 300)"], { batch: true, attempts: 3 });
    a.r.start();
    const rec = a.records.at(-1)!;
    a.r.detach();
    await eventuallyTrue(() => !alive(rec.pid!));
    const b = runner(BUN, ["-e", "process.exit(1)"], { batch: true, attempts: 3 });
    b.r.resume({ allocId: "a", task: "t", ...rec }, undefined);
    await b.r.done;
    expect(b.r.state).toMatchObject({ state: "dead", failed: false, restarts: 0, exitCode: 0 });
  }, 20_000);

  test("resume of a task whose process ended while nobody watched: one restart, counted", async () => {
    const { r } = runner(BUN, ["-e", "setInterval(() => {}, 1000)"], { attempts: 3 });
    r.resume({ allocId: "a", task: "t", pid: 2 ** 22 - 1, startTicks: 1, restarts: 1, ooms: 0 }, undefined);
    await eventuallyTrue(() => r.state.state === "running");
    expect(r.state.restarts).toBe(2);
    expect(r.state.events.map((e) => e.message).join("\n")).toContain("exit status unknown");
    await r.stop("test");
  }, 20_000);
});

describe("adopted tasks keep their limits", () => {
  test("the watchdog kills an adopted task over its memory and it is reported as OOM", async () => {
    // Started by someone else (a previous agent): not this runner's child.
    const other = spawn(BUN, ["-e", "const a = []; setTimeout(() => setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 20), 300)"], { stdio: "ignore", detached: true });
    const pid = other.pid!;
    const startTicks = startTicksOf(pid)!;
    const wd = new MemoryWatchdog();
    const timer = setInterval(() => wd.tick(), 50);
    const { r } = runner(BUN, ["-e", "setInterval(() => {}, 1000)"], { memoryMb: 80, attempts: 0, watchdog: wd });
    r.resume({ allocId: "a", task: "t", pid, startTicks, restarts: 0, ooms: 0 }, undefined);
    expect(r.pid).toBe(pid);
    await r.done;
    clearInterval(timer);
    expect(r.state).toMatchObject({ state: "dead", failed: true, oom: true, ooms: 1 });
    expect(alive(pid)).toBe(false);
  }, 20_000);
});

async function eventuallyTrue(fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
}
