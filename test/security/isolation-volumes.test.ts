// Host volumes inside isolated tasks (issues 16.1 and 16.8 where they meet):
// the agent bind-mounts a host volume into the task folder before spawning,
// and bubblewrap binds the task folder into the sandbox. The volume must be
// there inside the sandbox, writable when mounted read-write, and still
// read-only when mounted read-only (a bind of the task folder must not turn
// a read-only submount writable).
//
// Needs root and /usr/bin/bwrap: skipped, with the reason printed, otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { mountsUnder } from "../../plugins/exec/volumes.ts";
import { IS_ROOT, finishedAlloc, headers, shellJob } from "./helpers-workload.ts";

const BWRAP = "/usr/bin/bwrap";
const CAN = IS_ROOT && existsSync(BWRAP);
if (!CAN) console.log(`test/security/isolation-volumes.test.ts skipped: needs root and ${BWRAP} (Debian: bubblewrap)`);

let dev: CorralProcess;
const parent = tempDir("corral-isovol-");
const hostData = join(parent, "host-data");

beforeAll(async () => {
  if (!CAN) return;
  chmodSync(parent, 0o755); // task users may traverse to the data dir: isolation is on
  mkdirSync(hostData, { recursive: true });
  chmodSync(hostData, 0o777);
  writeFileSync(join(hostData, "seed.txt"), "from the host\n");
  dev = await startCorral({
    role: "dev",
    dataDir: join(parent, "data"),
    config: [
      `[node.host_volumes.data]\npath = "${hostData}"`,
      `[plugins]\nenabled = ["probe", "exec"]\nwatch = false`,
      `[plugins.exec]\nkill_timeout = "1s"`,
    ].join("\n\n") + "\n",
  });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 20_000);
}, 60_000);

afterAll(async () => {
  await killAll();
  if (dev) for (const m of mountsUnder(dev.dataDir)) spawnSync("umount", ["-l", m]);
});

function volumeJob(id: string, readOnly: boolean, script: string) {
  const j = shellJob(id, script, { isolation: "required", volume_mounts: [{ volume: "store", destination: "data", read_only: readOnly }] }) as any;
  j.groups[0].volumes = { store: { type: "host", source: "data", read_only: readOnly } };
  return j;
}

async function stdoutOf(id: string): Promise<{ alloc: any; out: string }> {
  const r = await getJson(dev.url + "/v1/jobs", { method: "POST", body: JSON.stringify(volumeJob(id, id.startsWith("ro"), SCRIPT)), headers: headers() });
  expect(r.status).toBe(200);
  const alloc = await finishedAlloc(dev.url, id);
  const out = readFileSync(join(dev.dataDir, "exec", "allocs", alloc.id, "logs", "t.stdout.log"), "utf8");
  return { alloc, out };
}

const SCRIPT = `cat data/seed.txt; if echo x > "data/w-$CORRAL_ALLOC_ID"; then echo WROTE; else echo REFUSED; fi; ls /proc | grep -c '^[0-9]'`;

describe.skipIf(!CAN)("host volumes in isolated tasks", () => {
  test("read-write: the task sees the host's files and its writes reach the host", async () => {
    const { alloc, out } = await stdoutOf("rw-iso");
    expect(alloc.clientStatus, JSON.stringify(alloc.taskStates)).toBe("complete");
    expect(alloc.taskStates.t.events.some((e: any) => e.type === "Started" && e.message.includes("(isolated)"))).toBe(true);
    expect(out.split("\n").slice(0, 2)).toEqual(["from the host", "WROTE"]);
    expect(existsSync(join(hostData, `w-${alloc.id}`))).toBe(true);
  }, 60_000);

  test("read-only: the task reads the host's files and cannot write them", async () => {
    const { alloc, out } = await stdoutOf("ro-iso");
    expect(alloc.clientStatus, JSON.stringify(alloc.taskStates)).toBe("complete");
    expect(alloc.taskStates.t.events.some((e: any) => e.type === "Started" && e.message.includes("(isolated)"))).toBe(true);
    expect(out.split("\n").slice(0, 2)).toEqual(["from the host", "REFUSED"]);
    expect(existsSync(join(hostData, `w-${alloc.id}`))).toBe(false);
  }, 60_000);
});
