// A container task's `user` end to end (issue 17 point 1, docs/containers.md
// "The user"): a dev node with ACLs on (root, runc) runs images the test
// built from busybox-static, whose /etc/passwd and /etc/group are the
// image's own, and pushed to the reference registry on loopback. What the
// job writer (an ordinary job:write token) sees: the process's ids, a task
// folder (/local, its token, its rendered template) it can write, a clear
// failure for a name the image lacks, and `user = "root"` as the
// container's root — accepted without operator:write, unlike an exec task
// as root.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cleanup, eventually, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call, tokenWith } from "../acl/helpers.ts";
import { finishedAlloc, headers, shellJob } from "../security/helpers-workload.ts";
import { BUSYBOX, push, containerJob, containerTestsMissing, endContainers, startRegistry, tarOf, writeLayout, type Registry } from "./registry-helpers.ts";

const missing = containerTestsMissing();
if (missing) console.log(`skipping container user tests: ${missing}`);

const dirs: string[] = [];
let reg: Registry | undefined;
let dev: CorralProcess;
let management: string;
let writer: string;

afterAll(async () => {
  await killAll();
  if (dev) endContainers(dev.dataDir);
  await reg?.stop();
  for (const d of dirs) cleanup(d);
});

const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nworker:x:2001:2002::/srv:/bin/sh\n";
const GROUP = "root:x:0:\napp:x:1000:\nwork:x:2002:\nextra:x:3003:worker\n";

const logOf = (allocId: string, stream = "stdout") => {
  const f = join(dev.dataDir, "exec", "allocs", allocId, "logs", `t.${stream}.log`);
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};

async function submit(job: Record<string, unknown>, token = writer) {
  return getJson<any>(`${dev.url}/v1/jobs`, { method: "POST", body: JSON.stringify(job), headers: headers(token) });
}

async function ran(job: Record<string, unknown>): Promise<any> {
  const r = await submit(job);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const a = await finishedAlloc(dev.url, job.id as string, management, 90_000);
  if (a.clientStatus !== "complete") console.log(JSON.stringify(a.taskStates.t.events), logOf(a.id, "stderr"));
  return a;
}

/** The effective capability set of the container's process, from its /proc/self/status line. */
const capEff = (out: string) => BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(out)![1]}`);
const CAP_SYS_ADMIN = 21n;
const CAP_CHOWN = 0n;

describe.skipIf(!!missing)("a container task's user", () => {
  let image: string;
  let asApp: string;
  beforeAll(async () => {
    const d = tempDir("corral-ctr-user-");
    dirs.push(d);
    reg = await startRegistry(d);
    const layer = await tarOf([
      { type: "directory", name: "bin" },
      { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
      ...["sh", "echo", "cat", "id", "grep", "ls", "stat"].map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
      { type: "directory", name: "etc" },
      { type: "file", name: "etc/passwd", data: PASSWD },
      { type: "file", name: "etc/group", data: GROUP },
    ]);
    // No User: root unless the task says otherwise.
    push(writeLayout(join(d, "layout"), "v1", [layer], { Entrypoint: ["/bin/sh", "-c"], Env: ["PATH=/bin"] }).layout, "v1", `${reg.host}/user/app:v1`);
    push(writeLayout(join(d, "layout-app"), "app", [layer], { Entrypoint: ["/bin/sh", "-c"], Env: ["PATH=/bin"], User: "app" }).layout, "app", `${reg.host}/user/app:app`);
    image = `${reg.host}/user/app:v1`;
    asApp = `${reg.host}/user/app:app`;
    dev = await startCorral({
      role: "dev",
      config: `${ACL_CONFIG}[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nallow_raw = true\ncontainer_insecure_registries = ["${reg.host}"]\n`,
    });
    dirs.push(dev.dataDir);
    const boot = await getJson<any>(`${dev.url}/v1/acl/bootstrap`, { method: "PUT" });
    management = boot.body.SecretID;
    const node = { proc: dev, url: dev.url, management };
    await eventually(async () => (await call(dev.url, "GET", "/v1/nodes", management)).body.length === 1, 20_000);
    // An ordinary job writer: no operator:write.
    writer = (await tokenWith(node, "job-writer", `job_prefix "" { policy = "write" }`)).secret;
  }, 120_000);

  test("user = \"1000:1000\": the process runs as it and writes its task folder, its token and its template", async () => {
    const a = await ran(containerJob("by-uid", {
      image, user: "1000:1000",
      templates: [{ data: "rendered\n", destination: "conf/app.txt" }],
      args: [[
        "id -u; id -g",
        "echo mine > /local/written.txt && echo wrote",
        "echo more >> /local/conf/app.txt && echo template writable",
        "test -r /local/secrets/corral_token && echo token readable",
        "touch /etc/x 2>/dev/null || echo image root is not its own",
      ].join("; ")],
    }));
    expect(a.clientStatus).toBe("complete");
    expect(logOf(a.id)).toBe("1000\n1000\nwrote\ntemplate writable\ntoken readable\nimage root is not its own\n");
    const taskDir = join(dev.dataDir, "exec", "allocs", a.id, "tasks", "t");
    expect(statSync(join(taskDir, "written.txt")).uid).toBe(1000);
    expect(statSync(taskDir).uid).toBe(1000);
    expect(statSync(taskDir).mode & 0o777).toBe(0o700); // the task's own, nobody else's
    expect(statSync(join(taskDir, "secrets", "corral_token")).mode & 0o777).toBe(0o400);
    expect(readFileSync(join(taskDir, "conf", "app.txt"), "utf8")).toBe("rendered\nmore\n");
    // The allocation's own folders stay the agent's.
    expect(statSync(join(dev.dataDir, "exec", "allocs", a.id)).uid).toBe(0);
    expect(statSync(join(dev.dataDir, "exec", "allocs", a.id, "logs")).uid).toBe(0);
    const events: string[] = a.taskStates.t.events.map((e: any) => e.message);
    expect(events.some((m) => m.includes("/local given to 1000:1000"))).toBe(true);
  }, 120_000);

  test("user by name: the image's own passwd and group give its uid, gid and groups (not the node's)", async () => {
    const a = await ran(containerJob("by-name", { image, user: "worker", args: ["id -u; id -g; id -G; echo $HOME"] }));
    expect(a.clientStatus).toBe("complete");
    expect(logOf(a.id)).toBe("2001\n2002\n2002 3003\n/srv\n"); // HOME: its passwd entry's, as Docker sets it
    const b = await ran(containerJob("by-name-group", { image, user: "worker:app", args: ["id -u; id -g"] }));
    expect(logOf(b.id)).toBe("2001\n1000\n");
  }, 120_000);

  test("the task's user overrides the image's User; an image's non-root User writes /local too", async () => {
    const a = await ran(containerJob("image-user", { image: asApp, args: ["id -u; echo x > /local/f && echo wrote"] }));
    expect(logOf(a.id)).toBe("1000\nwrote\n");
    const b = await ran(containerJob("override", { image: asApp, user: "worker", args: ["id -u"] }));
    expect(logOf(b.id)).toBe("2001\n");
  }, 120_000);

  test("a name the image does not know fails the task with a clear event; the node goes on", async () => {
    const r = await submit(containerJob("ghost", { image, user: "ghost", args: ["id -u"] }));
    expect(r.status).toBe(200);
    const a = await finishedAlloc(dev.url, "ghost", management, 90_000);
    expect(a.clientStatus).toBe("failed");
    const messages = a.taskStates.t.events.map((e: any) => e.message).join("\n");
    expect(messages).toContain(`user "ghost" is not in the image's /etc/passwd (the task's user = "ghost")`);
    expect(logOf(a.id)).toBe(""); // nothing ran
    const g = await submit(containerJob("ghost-group", { image, user: "app:nogroup", args: ["id -u"] }));
    expect(g.status).toBe(200);
    const b = await finishedAlloc(dev.url, "ghost-group", management, 90_000);
    expect(b.taskStates.t.events.map((e: any) => e.message).join("\n")).toContain(`group "nogroup" is not in the image's /etc/group (the task's user = "app:nogroup")`);
    // A malformed one never gets that far: a 400 naming the field.
    const bad = await submit(containerJob("bad", { image, user: "a:b:c" }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("groups[0].tasks[0].user");
  }, 120_000);

  test("user = \"root\" on a container: a plain job:write token may submit it; it is the container's root (default capabilities); an exec task as root still needs operator:write", async () => {
    const a = await ran(containerJob("ctr-root", { image: asApp, user: "root", args: ["id -u; grep CapEff /proc/self/status"] }));
    expect(a.clientStatus).toBe("complete");
    const out = logOf(a.id);
    expect(out.split("\n")[0]).toBe("0");
    expect((capEff(out) >> CAP_CHOWN) & 1n).toBe(1n); // the default set, in effect for root in the container
    expect((capEff(out) >> CAP_SYS_ADMIN) & 1n).toBe(0n); // and no more
    const zero = await ran(containerJob("ctr-uid0", { image: asApp, user: "0", args: ["id -u"] }));
    expect(logOf(zero.id)).toBe("0\n");
    const exec = await submit(shellJob("exec-root", "id -u", { user: "root" }));
    expect(exec.status).toBe(403);
    expect(exec.body.code).toBe("PERMISSION_DENIED");
    expect(exec.body.error).toContain("operator:write");
    // A privileged container still needs it too, whatever its user.
    const priv = await submit(containerJob("ctr-priv", { image, user: "1000", privileged: true }));
    expect(priv.status).toBe(403);
    expect(priv.body.error).toContain("is a privileged container");
  }, 120_000);
});
