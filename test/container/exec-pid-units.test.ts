// The handle on a `runc exec` process (plugins/container/exec-pid.ts), with
// real processes standing in for it: a session leader (as runc's nsexec
// makes it) with a child, its pid in the file runc would write.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { execPidFile } from "../../plugins/container/exec-pid.ts";
import { cleanup, eventually, tempDir } from "../helpers/proc.ts";

const dir = tempDir("corral-exec-pid-");
afterAll(() => cleanup(dir));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A group leader running a child: `sh -c 'sleep & echo $!; wait'`, detached (a group of its own). */
async function leaderWithChild(): Promise<{ leader: number; child: number; exited: Promise<unknown> }> {
  const p = spawn("sh", ["-c", "sleep 300 & echo $!; wait"], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  const exited = new Promise((r) => p.once("exit", r));
  const child = await new Promise<number>((r) => p.stdout!.once("data", (b: Buffer) => r(Number(b.toString().trim()))));
  return { leader: p.pid!, child, exited };
}

test("kill ends the process and its group, and removes the pid file", async () => {
  const { path, inside } = execPidFile(dir);
  const p = await leaderWithChild();
  writeFileSync(path, String(p.leader)); // runc writes the bare pid
  inside.kill();
  await p.exited;
  expect(await eventually(() => (!alive(p.child) ? true : undefined), 10_000, 50)).toBe(true);
  expect(existsSync(path)).toBe(false);
});

test("after release (runc ended, the pid may be reused) kill touches nothing", async () => {
  const { path, inside } = execPidFile(dir);
  const p = await leaderWithChild();
  writeFileSync(path, String(p.leader));
  inside.release();
  expect(existsSync(path)).toBe(false);
  writeFileSync(path, String(p.leader)); // even were the file there again
  inside.kill();
  await Bun.sleep(200);
  expect([alive(p.leader), alive(p.child)]).toEqual([true, true]);
  process.kill(-p.leader, "SIGKILL");
  await p.exited;

  const early = execPidFile(dir);
  expect(() => early.inside.kill()).not.toThrow(); // no file yet
  early.inside.release();
});

test("a kill before runc wrote the file waits for it (runc alive), kills the process, then runc", async () => {
  const { path, inside } = execPidFile(dir);
  const p = await leaderWithChild();
  let runnerKilledAt = 0;
  inside.kill(() => (runnerKilledAt = Date.now()));
  await Bun.sleep(150);
  expect(runnerKilledAt).toBe(0); // runc must live on while the file is awaited: its pid keeps the inside pid from reuse
  writeFileSync(path, String(p.leader)); // the process had started (and printed) before runc wrote its pid
  await p.exited;
  expect(await eventually(() => (!alive(p.child) ? true : undefined), 10_000, 50)).toBe(true);
  expect(runnerKilledAt).toBeGreaterThan(0);
  expect(existsSync(path)).toBe(false);
});

test("runc ending while a kill waits for the file stops the wait", async () => {
  const { inside } = execPidFile(dir);
  let runnerKilled = false;
  inside.kill(() => (runnerKilled = true));
  inside.release();
  expect(await eventually(() => (runnerKilled ? true : undefined), 2_000, 20)).toBe(true);
});
