// `corral lock` with real processes: three contenders on one prefix, one
// runs its command at a time; the holder's process killed -9 (so nothing
// releases the lock) is replaced within 2×TTL + lock-delay; a holder whose
// session is destroyed has its child signalled and exits 1; with -n 2 two
// commands run at once and the third waits. And `corral session`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, eventually, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";

let dev: CorralProcess;
const contenders: ChildProcess[] = [];
const childPids = new Set<number>();

afterAll(async () => {
  for (const c of contenders) if (c.exitCode === null) c.kill("SIGKILL");
  for (const pid of childPids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await killAll();
});

beforeAll(async () => {
  dev = await startCorral({ role: "dev", config: `[leader]\nsession_ttl_min = "1s"\n` });
});

/** Lines "LOCKINDEX SESSION PID" the commands wrote when they started. */
function starts(log: string): { index: number; session: string; pid: number }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => {
    const [index, session, pid] = l.split(" ");
    childPids.add(Number(pid));
    return { index: Number(index), session: session!, pid: Number(pid) };
  });
}

function contender(name: string, prefix: string, log: string, extra: string[] = []): ChildProcess {
  const script = `echo "$CORRAL_LOCK_INDEX $CORRAL_LOCK_SESSION $$" >> ${log}; exec sleep 300`;
  const c = spawn(BUN, [ENTRY, "lock", "--addr", dev.url, "--ttl", "1s", "--lock-delay", "1s", "--kill-grace", "1s", "--name", name, ...extra, prefix, "--", "sh", "-c", script], {
    cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  c.stdout!.on("data", (d) => (out += d));
  c.stderr!.on("data", (d) => (out += d));
  (c as ChildProcess & { output: () => string }).output = () => out;
  contenders.push(c);
  return c;
}

const exitOf = (c: ChildProcess) => new Promise<number | null>((res) => (c.exitCode !== null ? res(c.exitCode) : c.once("exit", (code) => res(code))));

describe("corral lock", () => {
  test("3 contenders: one at a time; the holder killed -9 is replaced within 2×TTL + lock-delay; a lost lock signals the child", async () => {
    const log = join(tempDir("corral-lock-"), "starts.log");
    const procs = ["c0", "c1", "c2"].map((n) => contender(n, "coord/cli", log));
    const first = await eventually(() => starts(log).length === 1 && starts(log)[0], 30_000, 100);
    await sleep(2500);
    expect(starts(log)).toHaveLength(1);
    const sessions = (await getJson<{ ID: string; Name: string }[]>(`${dev.url}/v1/session/list`)).body;
    const holderName = sessions.find((s) => s.ID === first.session)!.Name;
    const holder = procs[Number(holderName.slice(1))]!;
    const killedAt = Date.now();
    holder.kill("SIGKILL");
    const second = await eventually(() => starts(log).length === 2 && starts(log)[1], 30_000, 50);
    const takeover = Date.now() - killedAt;
    // The dead holder's session lasts at least its TTL (1s) and is gone by 2×TTL; then the lock-delay (1s).
    expect(takeover).toBeGreaterThanOrEqual(1000);
    expect(takeover).toBeLessThan(2 * 1000 + 1000 + 4000);
    expect(second.index).toBe(first.index + 1);
    expect(second.session).not.toBe(first.session);

    // The new holder loses its lock (session destroyed): its child is signalled and `corral lock` exits 1.
    const name2 = (await getJson<{ ID: string; Name: string }[]>(`${dev.url}/v1/session/list`)).body.find((s) => s.ID === second.session)!.Name;
    const holder2 = procs[Number(name2.slice(1))]!;
    const r = await fetch(`${dev.url}/v1/session/destroy/${second.session}`, { method: "PUT" });
    expect(r.status).toBe(200);
    expect(await exitOf(holder2)).toBe(1);
    await eventually(() => {
      try {
        process.kill(second.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000, 100);
    const third = await eventually(() => starts(log).length === 3 && starts(log)[2], 30_000, 50);
    expect(third.index).toBe(second.index + 1);
  }, 120_000);

  test("-n 2: two commands run at once, the third waits; the exit code is the command's", async () => {
    const log = join(tempDir("corral-sem-"), "starts.log");
    ["s0", "s1", "s2"].forEach((n) => contender(n, "coord/sem", log, ["-n", "2"]));
    await eventually(() => starts(log).length === 2, 30_000, 100);
    await sleep(2000);
    expect(starts(log)).toHaveLength(2);
    const lockDoc = (await getJson<{ Value: string }[]>(`${dev.url}/v1/kv/coord/sem/.lock`)).body[0]!;
    expect(Object.keys(JSON.parse(Buffer.from(lockDoc.Value, "base64").toString()).Holders).sort()).toEqual(starts(log).map((s) => s.session).sort());

    const done = spawnSync(BUN, [ENTRY, "lock", "--addr", dev.url, "--ttl", "1s", "--lock-delay", "0s", "coord/other", "--", "sh", "-c", "exit 7"], { cwd: ROOT, encoding: "utf8" });
    expect(done.status).toBe(7);
  }, 120_000);

  test("corral session list, info and destroy", async () => {
    const r = await fetch(`${dev.url}/v1/session/create`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ Name: "cli-test" }) });
    const { ID } = (await r.json()) as { ID: string };
    const run = (...a: string[]) => spawnSync(BUN, [ENTRY, "session", ...a, "--addr", dev.url], { cwd: ROOT, encoding: "utf8" });
    const list = run("list");
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(ID);
    expect(list.stdout).toContain("cli-test");
    const info = run("info", ID, "--json");
    expect(JSON.parse(info.stdout)[0].ID).toBe(ID);
    expect(run("destroy", ID).stdout).toBe(`destroyed session ${ID}\n`);
    const gone = run("info", ID);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain("no session");
    expect(run("explode").status).toBe(2);
  }, 60_000);
});
