// Container tasks in job documents (core/scheduler/jobspec/schema.ts): what
// a container task must and may say, refused with the field's path; what
// it normalizes to (the replicated task the agent runs).
import { describe, expect, test } from "bun:test";
import { parseJobSpec } from "../../core/scheduler/jobspec.ts";
import { tasksUpdated } from "../../core/scheduler/update-kind.ts";
import { taskErrors, taskJob } from "./task-spec.ts";

const job = taskJob;
const errors = taskErrors;

describe("container tasks in a job spec", () => {
  test("image, entrypoint, work_dir and readonly_rootfs normalize into task.container; command may be left out", () => {
    const r = parseJobSpec(job(`driver = "container"\nimage = "reg.example.com:5000/team/app:1.2"\nentrypoint = ["/bin/sh", "-c"]\nargs = ["echo hi"]\nwork_dir = "/srv"\nreadonly_rootfs = true`), "toml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const t = r.job.groups[0]!.tasks[0]!;
    expect(t.driver).toBe("container");
    expect(t.command).toBe("");
    expect(t.args).toEqual(["echo hi"]);
    expect(t.container).toEqual({ image: "reg.example.com:5000/team/app:1.2", entrypoint: ["/bin/sh", "-c"], workDir: "/srv", readonlyRootfs: true });
  });

  test("ports with `to`, and network_mode host/none, on container tasks", () => {
    const r = parseJobSpec(job(`driver = "container"\nimage = "app"\nports = { http = { to = 8080 }, admin = {} }`), "toml");
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.job.groups[0]!.tasks[0]!.ports).toEqual({ http: { to: 8080 }, admin: {} });
    expect(r.job.groups[0]!.tasks[0]!.networkMode).toBeUndefined(); // its allocation's own network
    for (const mode of ["host", "none"] as const) {
      const m = parseJobSpec(job(`driver = "container"\nimage = "app"\nnetwork_mode = "${mode}"`), "toml");
      if (!m.ok) throw new Error(JSON.stringify(m.errors));
      expect(m.job.groups[0]!.tasks[0]!.networkMode).toBe(mode);
    }
  });

  test("refusals name the field and why", () => {
    expect(errors(`driver = "container"`)).toEqual([`groups[0].tasks[0].image: a container task needs an image ("registry:port/name:tag" or "…@sha256:<hex>")`]);
    expect(errors(`driver = "container"\nimage = "reg:5000/App:1"`)[0]).toContain("groups[0].tasks[0].image: image \"reg:5000/App:1\": invalid repository name");
    expect(errors(`driver = "container"\nimage = "reg:5000/app@sha256:1234"`)[0]).toContain("the digest must be sha256:<64 lowercase hex>");
    expect(errors(`driver = "container"\nimage = "app"\nisolation = "required"`)[0]).toContain("groups[0].tasks[0].isolation: isolation is for the exec driver");
    expect(errors(`driver = "container"\nimage = "app"\nuser = "a:b:c"`)[0]).toContain(`groups[0].tasks[0].user: user "a:b:c": one ":" at most`);
    expect(errors(`driver = "container"\nimage = "app"\nnetwork_mode = "host"\nports = { http = { to = 8080 } }`)[0]).toContain("groups[0].tasks[0].ports.http.to: with network_mode \"host\" the container listens on the allocated port itself");
    expect(errors(`driver = "container"\nimage = "app"\nnetwork_mode = "none"\nports = { http = {} }`)[0]).toContain(`groups[0].tasks[0].ports.http: network_mode "none" has no network to reach a port on`);
    expect(errors(`command = "/bin/true"\nports = { http = { to = 8080 } }`)[0]).toContain("groups[0].tasks[0].ports.http.to: to (the port inside the container) is for the container driver");
    expect(errors(`driver = "container"\nimage = "app"\nwork_dir = "srv"`)[0]).toContain("groups[0].tasks[0].work_dir: an absolute path inside the container");
    expect(errors(`command = "/bin/true"\nimage = "app"`)).toEqual(["groups[0].tasks[0].image: image is for the container driver"]);
    expect(errors(`driver = "exec"`)).toEqual(["groups[0].tasks[0].command: required"]);
  });

  test("a changed image is a destructive update (the task is replaced), like a changed command", () => {
    const a = parseJobSpec(job(`driver = "container"\nimage = "app:1"`), "toml");
    const b = parseJobSpec(job(`driver = "container"\nimage = "app:2"`), "toml");
    if (!a.ok || !b.ok) throw new Error("parse");
    expect(tasksUpdated(a.job.groups[0]!, b.job.groups[0]!)).toBe(`task "t": container changed`);
    expect(tasksUpdated(a.job.groups[0]!, a.job.groups[0]!)).toBeNull();
  });
});
