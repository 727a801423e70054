// Units of "tasks outlive the agent": processes.json (version 1 files from
// the previous release read as no restarts; records survive a reload of the
// file; forget drops an allocation), and log rotation by copy and truncate
// while another process writes the file through its own append descriptor,
// followed without loss or repetition.
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessFile } from "../../plugins/exec/processes.ts";
import { RotatingLog, logFiles, readLogs } from "../../plugins/exec/logs.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "corral-reattach-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("processes.json", () => {
  test("a version 1 file (pid and start time only) loads with zero restarts; records and forget persist", () => {
    const file = join(tmp(), "processes.json");
    writeFileSync(file, JSON.stringify({ version: 1, tasks: [{ allocId: "a1", task: "web", pid: 4242, startTicks: 77 }, { bogus: true }] }));
    const pf = new ProcessFile(file);
    expect(pf.load()).toEqual([{ allocId: "a1", task: "web", pid: 4242, startTicks: 77, restarts: 0, ooms: 0 }]);
    pf.set("a2", "db", { restarts: 2, ooms: 1, windowStart: 1000, windowCount: 2 });
    const again = new ProcessFile(file).load();
    expect(again).toHaveLength(2);
    expect(again.find((e) => e.allocId === "a2")).toEqual({ allocId: "a2", task: "db", restarts: 2, ooms: 1, windowStart: 1000, windowCount: 2 });
    pf.forget("a1");
    expect(new ProcessFile(file).load().map((e) => e.allocId)).toEqual(["a2"]);
    expect(JSON.parse(readFileSync(file, "utf8")).version).toBe(2);
  });

  test("a corrupt file counts as nothing recorded", () => {
    const file = join(tmp(), "processes.json");
    writeFileSync(file, "{not json");
    expect(new ProcessFile(file).load()).toEqual([]);
  });
});

describe("logs written by the task itself", () => {
  test("copy-and-truncate rotation while a process appends; a follower sees every line once", async () => {
    const d = tmp();
    const log = new RotatingLog(d, "t", "stdout", 2000, 3);
    const ctl = new AbortController();
    const reader = readLogs(d, "t", "stdout", { follow: true, signal: ctl.signal, pollMs: 5 }).getReader();
    let seen = "";
    const pump = (async () => {
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        seen += Buffer.from(r.value).toString();
      }
    })();
    // A writer that is not the agent: a shell appending through the descriptor it was given.
    const child = spawn("/bin/sh", ["-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); sleep 0.005; done"], { stdio: ["ignore", log.descriptor, "ignore"] });
    const rotating = setInterval(() => log.rotateIfFull(), 20);
    await new Promise((r) => child.once("exit", r));
    clearInterval(rotating);
    log.rotateIfFull();
    await Bun.sleep(200);
    ctl.abort();
    await pump;
    log.close();
    expect(logFiles(d, "t", "stdout").length).toBeGreaterThan(1); // it did rotate
    const lines = seen.trim().split("\n");
    // Copy-and-truncate may lose a line written between the copy and the truncate; it never repeats one.
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines.length).toBeGreaterThanOrEqual(290);
    expect(lines.at(-1)).toBe("line-299");
  }, 30_000);
});
