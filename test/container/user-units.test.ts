// A container task's `user` (issue 17 point 1) in its pure and file-level
// parts: the jobspec accepts the forms Docker takes and refuses others; the
// value travels in task.container (kept by the replicated command schema,
// and an entry carrying it is v2); `user = "root"` on a container is not raw
// mode; names are looked up in the image's files, whose links stay in the
// image; the task folder is handed to the user without its volume mounts,
// links or hard-linked files.
import { afterAll, describe, expect, test } from "bun:test";
import { linkSync, lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseContainerUser } from "../../core/scheduler/container-user.ts";
import { driverRequirements, hostPrivilegedTasks, isRawTask } from "../../core/scheduler/raw.ts";
import { JobSchema, specNeedsV2 } from "../../core/state/domains/jobs-commands.ts";
import { ContainerDriver, containerUser } from "../../plugins/container/driver.ts";
import { readImageFile, resolveInImage } from "../../plugins/container/image-files.ts";
import { handTaskDirTo, mountPointsUnder } from "../../plugins/container/task-dir-owner.ts";
import { cleanup, tempDir } from "../helpers/proc.ts";
import { parsedTask, taskErrors } from "./task-spec.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

const parsed = parsedTask;
const errors = taskErrors;

describe("user on a container task in a job spec", () => {
  test("name, uid, name:group, uid:gid are accepted and kept in task.container, not as a host user", () => {
    for (const u of ["app", "1000", "app:staff", "1000:1000", "root", "0", "www-data", "App.User_1"]) {
      const j = parsed(`driver = "container"\nimage = "app"\nuser = "${u}"`);
      const t = j.groups[0]!.tasks[0]!;
      expect(t.container?.user).toBe(u);
      expect(t.user).toBeUndefined();
      // The replicated command schema keeps it (it strips unknown keys), and the entry is v2: an older
      // node would drop it and run the image's User (root for most images).
      expect(JobSchema.parse(j).groups[0]!.tasks[0]!.container?.user).toBe(u);
      expect(specNeedsV2(j)).toBe(true);
    }
    expect(specNeedsV2(parsed(`driver = "container"\nimage = "app"`))).toBe(false);
  });

  test("a malformed user is refused at submission, naming the field", () => {
    expect(errors(`driver = "container"\nimage = "app"\nuser = "a:b:c"`)).toEqual([`groups[0].tasks[0].user: user "a:b:c": one ":" at most ("name", "uid", "name:group" or "uid:gid")`]);
    expect(errors(`driver = "container"\nimage = "app"\nuser = ""`)[0]).toContain("groups[0].tasks[0].user: user must not be empty");
    expect(errors(`driver = "container"\nimage = "app"\nuser = "app:"`)[0]).toContain(`groups[0].tasks[0].user: group "" is not a name`);
    expect(errors(`driver = "container"\nimage = "app"\nuser = "99999999999"`)[0]).toContain("user id 99999999999 is out of range");
    expect(errors(`driver = "container"\nimage = "app"\nuser = "a b"`)[0]).toContain(`user "a b" is not a name`);
    expect(errors(`driver = "container"\nimage = "app"\nisolation = "required"`)[0]).toContain("groups[0].tasks[0].isolation: isolation is for the exec driver");
  });

  test("an exec task's user stays a host user name (uids and groups refused, as before)", () => {
    expect(parsed(`command = "/bin/true"\nuser = "nobody"`).groups[0]!.tasks[0]!.user).toBe("nobody");
    expect(errors(`command = "/bin/true"\nuser = "1000:1000"`)[0]).toContain("groups[0].tasks[0].user: a user name: lowercase letters");
    expect(errors(`driver = "raw_exec"\ncommand = "/bin/true"\nuser = "root"`)[0]).toContain(`raw_exec runs as the agent's own user`);
  });

  test("parseContainerUser", () => {
    expect(parseContainerUser("1000:50")).toEqual({ user: { id: 1000 }, group: { id: 50 } });
    expect(parseContainerUser("app")).toEqual({ user: { name: "app" } });
    expect(parseContainerUser("0:wheel")).toEqual({ user: { id: 0 }, group: { name: "wheel" } });
    expect(() => parseContainerUser("4294967295")).toThrow("out of range");
    expect(() => parseContainerUser("-x")).toThrow("is not a name");
  });
});

describe("user = \"root\" on a container is the container's root, not raw mode", () => {
  test("isRawTask, hostPrivilegedTasks and the placement requirements", () => {
    const ctr = parsed(`driver = "container"\nimage = "app"\nuser = "root"`);
    const t = ctr.groups[0]!.tasks[0]!;
    expect(isRawTask(t)).toBe(false);
    expect(hostPrivilegedTasks(ctr)).toEqual([]);
    expect(driverRequirements([t]).map((r) => r.attribute)).toEqual(["driver.exec"]);
    // Even a container task that carried a host user some other way is not raw.
    expect(isRawTask({ driver: "container", user: "root" })).toBe(false);
    // An exec task as root still is; a privileged container still is host-privileged.
    const exec = parsed(`command = "/bin/true"\nuser = "root"`);
    expect(isRawTask(exec.groups[0]!.tasks[0]!)).toBe(true);
    expect(hostPrivilegedTasks(exec)).toEqual([{ task: "g/t", why: 'runs in raw mode (driver raw_exec or user "root")' }]);
    expect(driverRequirements(exec.groups[0]!.tasks).map((r) => r.attribute)).toEqual(["driver.raw_exec"]);
    expect(hostPrivilegedTasks(parsed(`driver = "container"\nimage = "app"\nuser = "root"\nprivileged = true`))).toEqual([{ task: "g/t", why: "is a privileged container" }]);
  });
});

describe("the image's passwd and group, read inside the image", () => {
  test("links resolve in the image's root: an absolute link never reaches the node's files", () => {
    const root = tempDir("corral-ctr-user-");
    dirs.push(root);
    mkdirSync(join(root, "etc"));
    mkdirSync(join(root, "data"));
    writeFileSync(join(root, "data", "passwd"), "app:x:1234:1235::/home/app:/bin/sh\n");
    writeFileSync(join(root, "data", "group"), "app:x:1235:\nextra:x:77:app\n");
    symlinkSync("/data/passwd", join(root, "etc", "passwd")); // absolute: the image's /data, not the node's
    symlinkSync("../../../../../../data/group", join(root, "etc", "group")); // ".." stops at the image's root
    expect(resolveInImage(root, "/etc/passwd")).toBe(join(root, "data", "passwd"));
    expect(containerUser(root, "app")).toEqual({ uid: 1234, gid: 1235, additionalGids: [77], home: "/home/app" });
    // A link to a file the image lacks (the node's /etc/shadow, say) reads as absent, not as the node's.
    symlinkSync("/etc/shadow", join(root, "etc", "shadow"));
    expect(readImageFile(root, "/etc/shadow")).toBe("");
    // A loop of links ends.
    symlinkSync("/loop-b", join(root, "loop-a"));
    symlinkSync("/loop-a", join(root, "loop-b"));
    expect(resolveInImage(root, "/loop-a")).toBeUndefined();
  });

  test("an image whose /etc is a link to the node's /etc: root's name is unknown to it", () => {
    const root = tempDir("corral-ctr-user-");
    dirs.push(root);
    symlinkSync("/etc", join(root, "etc")); // in the image: /etc -> /etc, itself
    expect(() => containerUser(root, "root")).toThrow(`user "root" is not in the image's /etc/passwd (the task's user = "root")`);
    expect(() => containerUser(root, "app:x", "image")).toThrow(`user "app" is not in the image's /etc/passwd (the image's User "app:x")`);
    expect(containerUser(root, "1000:1000")).toEqual({ uid: 1000, gid: 1000, additionalGids: [], home: "/" });
    expect(containerUser(root, "")).toEqual({ uid: 0, gid: 0, additionalGids: [], home: "/" });
  });
});

describe("the task folder handed to the container's user", () => {
  test.skipIf(process.getuid?.() !== 0)("everything in it but mounts, links' targets and hard-linked files", () => {
    const base = tempDir("corral-ctr-own-");
    dirs.push(base);
    const task = join(base, "task");
    const outside = join(base, "outside");
    mkdirSync(join(task, "secrets"), { recursive: true });
    mkdirSync(join(task, "vol", "data"), { recursive: true });
    mkdirSync(join(task, "deep", "er"), { recursive: true });
    writeFileSync(join(task, "secrets", "corral_token"), "t", { mode: 0o400 });
    writeFileSync(join(task, "deep", "er", "f"), "x");
    writeFileSync(join(task, "vol", "data", "v"), "v");
    writeFileSync(outside, "o");
    symlinkSync(outside, join(task, "link"));
    linkSync(outside, join(task, "hard"));
    const r = handTaskDirTo(task, { uid: 1000, gid: 1001 }, new Set([join(task, "vol")]));
    expect(r.truncated).toBe(false);
    const own = (p: string) => `${lstatSync(p).uid}:${lstatSync(p).gid}`;
    for (const p of ["", "secrets", "secrets/corral_token", "deep", "deep/er", "deep/er/f"]) expect(own(join(task, p))).toBe("1000:1001");
    expect(own(join(task, "link"))).toBe("1000:1001"); // the link itself
    expect(`${statSync(outside).uid}`).toBe("0"); // never what it points to, nor a file with another name
    expect(own(join(task, "vol"))).toBe("0:0");
    expect(own(join(task, "vol", "data", "v"))).toBe("0:0");
  });

  test.skipIf(process.getuid?.() !== 0)("the driver walks the folder once, while it is root's: not again once it is the user's", () => {
    const base = tempDir("corral-ctr-own-");
    dirs.push(base);
    const log = { debug() {}, info() {}, warn() {}, error() {} } as any;
    const drv = new ContainerDriver({
      dir: join(base, "c"), runtime: { path: "/usr/sbin/runc", name: "runc", version: "1" }, auth: {}, insecureRegistries: [], allowedRegistries: [],
      cacheBytes: 1 << 30, imagesBytes: 1 << 30, maxUnpackedBytes: 1 << 30, pullTimeoutMs: 1000, listenHost: "127.0.0.1", log,
    });
    const task = join(base, "task");
    mkdirSync(task, { mode: 0o700 });
    writeFileSync(join(task, "a"), "a");
    const user = { uid: 1000, gid: 1000, additionalGids: [] };
    expect(drv.handOverTaskDir(task, { uid: 0, gid: 0, additionalGids: [] })).toBeUndefined(); // root: nothing to do
    expect(lstatSync(join(task, "a")).uid).toBe(0);
    expect(drv.handOverTaskDir(task, user)).toBe("/local given to 1000:1000");
    expect(lstatSync(join(task, "a")).uid).toBe(1000);
    // Something root's appears later (the agent writes as the user by then): the folder is not walked again.
    writeFileSync(join(task, "b"), "b");
    expect(drv.handOverTaskDir(task, user)).toBeUndefined();
    expect(lstatSync(join(task, "b")).uid).toBe(0);
  });

  test("mount points under the folder, from mountinfo (escapes decoded)", () => {
    const info = [
      "36 35 98:0 / /data/allocs/a/tasks/t rw - ext4 /dev/x rw",
      "37 35 98:0 /vols/x /data/allocs/a/tasks/t/my\\040vol rw - ext4 /dev/x rw",
      "38 35 98:0 /y /data/allocs/a/tasks/t2/v rw - ext4 /dev/x rw",
    ].join("\n");
    expect([...mountPointsUnder(info, "/data/allocs/a/tasks/t")]).toEqual(["/data/allocs/a/tasks/t/my vol"]);
  });
});
