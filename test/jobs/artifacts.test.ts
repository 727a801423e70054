// Task artifacts with real processes (issue 16.7): a dev node (agent as
// root, tasks as nobody) and an HTTP server started here that serves a
// tar.gz and a zip built here, plus malicious archives. A good checksum: the
// task (cat, as nobody) reads the unpacked files; a bad one: the task never
// starts and its events name the mismatch; archives that try to write
// outside the destination are refused and write nothing outside; a second
// allocation takes the artifact from the node's cache (the server is not
// asked again).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { zipSync, strToU8 } from "fflate";
import { startCorral, killAll, getJson, eventually, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { allocs, reapTasks, submit } from "./cluster-helpers.ts";

type Entry = { name: string; type?: "file" | "directory" | "symlink" | "link" | "character-device"; linkname?: string; content?: string; mode?: number };

async function tarGz(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    const { content, ...header } = e;
    p.entry({ mode: 0o644, ...header }, content ?? "");
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const sha256 = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

let dev: CorralProcess;
let server: ReturnType<typeof Bun.serve>;
const hits = new Map<string, number>();
const files = new Map<string, Uint8Array>();
const outside = tempDir("corral-artifact-outside-");
let base: string;

beforeAll(async () => {
  files.set("/app.tar.gz", await tarGz([
    { name: "app/", type: "directory", mode: 0o755 },
    { name: "app/hello.txt", content: "hello from tar\n" },
    { name: "app/run.sh", content: "#!/bin/sh\necho run\n", mode: 0o4755 },
  ]));
  files.set("/app.zip", zipSync({ "z/zipped.txt": strToU8("hello from zip\n") }));
  files.set("/dotdot.tar.gz", await tarGz([{ name: "../../escape.txt", content: "out\n" }]));
  files.set("/symlink.tar.gz", await tarGz([
    { name: "link", type: "symlink", linkname: outside },
    { name: "link/pwned.txt", content: "pwned\n" },
  ]));
  files.set("/relsymlink.tar.gz", await tarGz([
    { name: "up", type: "symlink", linkname: "../../../../../../../../" + outside.slice(1) },
    { name: "up/pwned.txt", content: "pwned\n" },
  ]));
  files.set("/hardlink.tar.gz", await tarGz([{ name: "passwd", type: "link", linkname: "/etc/passwd" }]));
  files.set("/device.tar.gz", await tarGz([{ name: "null", type: "character-device" }]));
  server = Bun.serve({
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const body = path.startsWith("/n/") ? files.get("/app.zip") : files.get(path);
      return body ? new Response(body) : new Response("no", { status: 404 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
  dev = await startCorral({
    role: "dev",
    config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`,
  });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 20_000);
}, 60_000);

afterAll(async () => {
  server?.stop(true);
  await killAll();
  reapTasks(dev.dataDir);
});

/** A batch job whose one task runs `command args` after fetching `artifacts`; no restarts unless asked. */
function job(id: string, artifacts: unknown[], command = "/bin/cat", args: string[] = [], restart: Record<string, unknown> = { attempts: 0, mode: "fail" }) {
  return {
    id, type: "batch",
    groups: [{ name: "g", count: 1, restart, reschedule: { attempts: 0 }, tasks: [{ name: "t", command, args, artifacts, resources: { cpu: 50, memory: 64 } }] }],
  };
}

async function finished(id: string): Promise<any> {
  return eventually(async () => (await allocs(dev.url, id)).find((a) => a.clientStatus === "complete" || a.clientStatus === "failed"), 40_000, 200);
}

function stdoutOf(alloc: any): string {
  return readFileSync(join(dev.dataDir, "exec", "allocs", alloc.id, "logs", "t.stdout.log"), "utf8");
}

describe("artifacts", () => {
  test("a tar.gz and a zip with good checksums: the task (as nobody) reads the unpacked files", async () => {
    await submit(dev.url, job("good", [
      { source: `${base}/app.tar.gz`, checksum: sha256(files.get("/app.tar.gz")!) },
      { source: `${base}/app.zip`, destination: "local/zip", checksum: sha256(files.get("/app.zip")!) },
    ], "/bin/cat", ["local/app/hello.txt", "local/zip/z/zipped.txt"]));
    const a = await finished("good");
    expect(a.clientStatus, JSON.stringify(a.taskStates)).toBe("complete");
    expect(stdoutOf(a)).toBe("hello from tar\nhello from zip\n");
    const events = a.taskStates.t.events.map((e: any) => e.type);
    expect(events.indexOf("Downloading Artifacts")).toBeLessThan(events.indexOf("Started"));
    // Owned by the task's user, setuid dropped.
    const run = Bun.file(join(dev.dataDir, "exec", "allocs", a.id, "tasks", "t", "local", "app", "run.sh"));
    const st = await run.stat();
    expect(st.mode & 0o7777).toBe(0o755);
    const nobody = Number(Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString().trim());
    expect(st.uid).toBe(nobody);
  }, 60_000);

  test("a second allocation takes the artifact from the node's cache", async () => {
    expect(hits.get("/app.tar.gz")).toBe(1);
    await submit(dev.url, job("again", [{ source: `${base}/app.tar.gz`, checksum: sha256(files.get("/app.tar.gz")!) }], "/bin/cat", ["local/app/hello.txt"]));
    const a = await finished("again");
    expect(a.clientStatus, JSON.stringify(a.taskStates)).toBe("complete");
    expect(stdoutOf(a)).toBe("hello from tar\n");
    expect(hits.get("/app.tar.gz")).toBe(1);
    expect(a.taskStates.t.events.map((e: any) => e.message).join("\n")).toContain("(cached)");
  }, 60_000);

  test("source and destination are interpolated on the node", async () => {
    const [node] = (await getJson<any[]>(dev.url + "/v1/nodes")).body;
    await submit(dev.url, job("interp", [{ source: `${base}/n/\${node.unique.name}.zip`, destination: "local/\${node.unique.name}" }], "/bin/cat", [`local/${node.name}/z/zipped.txt`]));
    const a = await finished("interp");
    expect(a.clientStatus, JSON.stringify(a.taskStates)).toBe("complete");
    expect(stdoutOf(a)).toBe("hello from zip\n");
    expect(hits.get(`/n/${node.name}.zip`)).toBe(1);
  }, 60_000);

  test("a bad checksum: the task never starts, its event names the mismatch, restarts follow the policy", async () => {
    const wrong = "sha256:" + "0".repeat(64);
    await submit(dev.url, job("badsum", [{ source: `${base}/app.zip`, checksum: wrong }], "/bin/true", [], { attempts: 1, delay: "100ms", mode: "fail" }));
    const a = await finished("badsum");
    expect(a.clientStatus).toBe("failed");
    const st = a.taskStates.t;
    expect(st.events.map((e: any) => e.type)).not.toContain("Started");
    expect(st.startedAt).toBe(0);
    expect(st.restarts).toBe(1);
    expect(st.events.at(-1).message).toContain(`artifact ${base}/app.zip: checksum mismatch: expected ${wrong}, got ${sha256(files.get("/app.zip")!)}`);
    // Nothing unverified was made visible to the task.
    expect(existsSync(join(dev.dataDir, "exec", "allocs", a.id, "tasks", "t", "local", "z"))).toBe(false);
  }, 60_000);

  test("archives that reach outside the destination are refused and write nothing outside", async () => {
    const cases: [string, string][] = [
      ["dotdot", `archive entry "../../escape.txt" escapes the destination`],
      ["symlink", `archive entry "link": symbolic link to ${JSON.stringify(outside)} points outside the destination`],
      ["relsymlink", `archive entry "up": symbolic link to`],
      ["hardlink", `archive entry "passwd": hard link to "/etc/passwd" points outside the destination`],
      ["device", `archive entry "null": character-device entries are refused`],
    ];
    for (const [name] of cases) await submit(dev.url, job(`evil-${name}`, [{ source: `${base}/${name}.tar.gz` }], "/bin/true"));
    for (const [name, reason] of cases) {
      const a = await finished(`evil-${name}`);
      expect(a.clientStatus).toBe("failed");
      const st = a.taskStates.t;
      expect(st.events.map((e: any) => e.type)).not.toContain("Started");
      expect(st.events.at(-1).message).toContain(`artifact ${base}/${name}.tar.gz: ${reason}`);
      const allocDir = join(dev.dataDir, "exec", "allocs", a.id);
      expect(existsSync(join(allocDir, "tasks", "t", "escape.txt"))).toBe(false);
      expect(existsSync(join(allocDir, "tasks", "escape.txt"))).toBe(false);
    }
    expect(readdirSync(outside)).toEqual([]);
  }, 90_000);

  test("only http and https sources are accepted, and destinations stay in the task folder", async () => {
    const r = await getJson(dev.url + "/v1/jobs", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(job("scheme", [{ source: "file:///etc/passwd" }, { source: `${base}/x`, destination: "../up" }, { source: `${base}/x`, checksum: "md5:abc" }])),
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("INVALID_JOB");
    expect(r.body.errors.map((e: any) => e.path)).toEqual([
      "groups[0].tasks[0].artifacts[0].source", "groups[0].tasks[0].artifacts[1].destination", "groups[0].tasks[0].artifacts[2].checksum",
    ]);
    expect(r.body.errors[0].message).toBe("must be an http:// or https:// URL");
  });
});
