// The exec driver's pure and file-level parts: restart policy, the memory
// watchdog over fake /proc text, cgroup files over a fake cgroup folder,
// rotating logs and following them, task env, status reports, service
// definitions, and the config schema.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RestartTracker } from "../../plugins/exec/restart.ts";
import { MemoryWatchdog, groupRss, parseStat, parseVmRssBytes, type ProcReader } from "../../plugins/exec/memory.ts";
import { CgroupManager, cpuWeight, prepareCgroups } from "../../plugins/exec/cgroup.ts";
import { RotatingLog, logFiles, readLogs } from "../../plugins/exec/logs.ts";
import { envLabel, taskEnv } from "../../plugins/exec/env.ts";
import { StatusReporter } from "../../plugins/exec/reporter.ts";
import { serviceDefinition } from "../../plugins/exec/services.ts";
import { DEFAULT_CHROOT_ENV, execConfigSchema } from "../../plugins/exec/config.ts";
import { silentLogger } from "../../core/log.ts";
import type { NodeAlloc } from "../../plugins/exec/alloc-runner.ts";
import { job } from "./fixtures.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "corral-exec-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("restart policy", () => {
  test("attempts within the interval, then fail", () => {
    const t = new RestartTracker({ attempts: 2, intervalMs: 60_000, delayMs: 1000, mode: "fail" }, false);
    expect(t.next(0, false)).toMatchObject({ kind: "restart", delayMs: 1000 });
    expect(t.next(5_000, true)).toMatchObject({ kind: "restart" }); // a service exiting 0 is a failure too
    expect(t.next(10_000, false).kind).toBe("fail");
  });

  test("a new window resets the count", () => {
    const t = new RestartTracker({ attempts: 1, intervalMs: 10_000, delayMs: 500, mode: "fail" }, false);
    expect(t.next(0, false).kind).toBe("restart");
    expect(t.next(10_000, false).kind).toBe("restart");
    expect(t.next(12_000, false).kind).toBe("fail");
  });

  test("delay mode waits for the window to end instead of failing", () => {
    const t = new RestartTracker({ attempts: 1, intervalMs: 30_000, delayMs: 1000, mode: "delay" }, false);
    t.next(0, false);
    expect(t.next(4_000, false)).toMatchObject({ kind: "restart", delayMs: 26_000 });
    expect(t.next(31_000, false)).toMatchObject({ kind: "restart", delayMs: 1000 });
  });

  test("a batch task that exits 0 is done", () => {
    expect(new RestartTracker({ attempts: 0, intervalMs: 1, delayMs: 1, mode: "fail" }, true).next(0, true).kind).toBe("done");
  });
});

describe("memory watchdog", () => {
  const stat = (pid: number, pgrp: number, comm = "bun") => `${pid} (${comm}) S 1 ${pgrp} ${pgrp} 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 ${1000 + pid} 100 200`;
  const fake = (procs: Record<number, { pgrp: number; rssKb: number }>): ProcReader => ({
    pids: () => Object.keys(procs).map(Number),
    stat: (pid) => (procs[pid] ? stat(pid, procs[pid]!.pgrp, "we) ird (name") : undefined),
    status: (pid) => (procs[pid] ? `Name:\tx\nVmRSS:\t  ${procs[pid]!.rssKb} kB\n` : undefined),
  });

  test("parses stat with a hostile command name, and VmRSS", () => {
    expect(parseStat(stat(42, 40, "a) b (c"))).toEqual({ pid: 42, ppid: 1, pgrp: 40, startTicks: 1042 });
    expect(parseVmRssBytes("VmRSS:\t 2048 kB")).toBe(2 * 1024 * 1024);
    expect(parseVmRssBytes("State: Z (zombie)")).toBe(0);
  });

  test("sums a process group and kills it over the limit, reporting before the kill", () => {
    const proc = fake({ 10: { pgrp: 10, rssKb: 60_000 }, 11: { pgrp: 10, rssKb: 50_000 }, 20: { pgrp: 20, rssKb: 10_000 } });
    expect(groupRss(proc, new Set([10, 20]))).toEqual(new Map([[10, 110_000 * 1024], [20, 10_000 * 1024]]));
    const order: string[] = [];
    const w = new MemoryWatchdog(proc, (pgid) => order.push(`kill ${pgid}`));
    w.watch("a/t", 10, 100 * 1024 * 1024, (rss) => order.push(`oom ${Math.round(rss / 1024)}`));
    w.watch("b/t", 20, 100 * 1024 * 1024, () => order.push("never"));
    expect(w.tick()).toEqual(["a/t"]);
    expect(order).toEqual(["oom 110000", "kill 10"]);
    expect(w.size).toBe(1);
  });
});

describe("cgroup v2", () => {
  test("not a v2 mount, or no memory controller: not usable", () => {
    expect(prepareCgroups("").ok).toBe(false);
    const d = tmp();
    expect(prepareCgroups(d)).toMatchObject({ ok: false, reason: expect.stringContaining("not a cgroup v2 mount") });
    writeFileSync(join(d, "cgroup.controllers"), "cpu io\n");
    expect(prepareCgroups(d)).toMatchObject({ ok: false, reason: expect.stringContaining("memory") });
  });

  test("prepares corral/, one leaf per task with memory.max and cpu.weight; reads OOM kills", () => {
    const root = tmp();
    writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    expect(prepareCgroups(root)).toEqual({ ok: true });
    expect(readFileSync(join(root, "cgroup.subtree_control"), "utf8")).toBe("+memory +cpu");
    const cg = new CgroupManager(root);
    mkdirSync(join(root, "corral", "a1", "web"), { recursive: true });
    writeFileSync(join(root, "corral", "a1", "web", "cpu.weight"), "100");
    const leaf = cg.create("a1", "web", 64 * 1024 * 1024, 2000);
    expect(readFileSync(join(leaf, "memory.max"), "utf8")).toBe(String(64 * 1024 * 1024));
    expect(readFileSync(join(leaf, "cpu.weight"), "utf8")).toBe("200");
    cg.addProcess(leaf, 1234);
    expect(readFileSync(join(leaf, "cgroup.procs"), "utf8")).toBe("1234");
    writeFileSync(join(leaf, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    expect(cg.oomKills(leaf)).toBe(1);
    expect([cpuWeight(1), cpuWeight(1000), cpuWeight(1e9)]).toEqual([1, 100, 10_000]);
  });
});

describe("logs", () => {
  test("rotate past the size limit, keep max_log_files, read back oldest first", async () => {
    const d = tmp();
    const log = new RotatingLog(d, "web", "stdout", 10, 3);
    log.write(Buffer.from("0123456789abcdefghij")); // two full files
    log.write(Buffer.from("KLMNO"));
    log.close();
    expect(logFiles(d, "web", "stdout").map((f) => f.slice(d.length + 1))).toEqual(["web.stdout.log.2", "web.stdout.log.1", "web.stdout.log"]);
    expect(await new Response(readLogs(d, "web", "stdout", { follow: false })).text()).toBe("0123456789abcdefghijKLMNO");
    const again = new RotatingLog(d, "web", "stdout", 10, 3);
    again.write(Buffer.from("PQRSTUVWXYZ")); // the oldest file is deleted
    again.close();
    expect(await new Response(readLogs(d, "web", "stdout", { follow: false })).text()).toBe("abcdefghijKLMNOPQRSTUVWXYZ");
  });

  test("follow sends new output across a rotation, and ends on abort", async () => {
    const d = tmp();
    const log = new RotatingLog(d, "t", "stderr", 8, 2);
    log.write(Buffer.from("one-"));
    const ctl = new AbortController();
    const reader = readLogs(d, "t", "stderr", { follow: true, signal: ctl.signal, pollMs: 10 }).getReader();
    const seen: string[] = [];
    const pump = (async () => {
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        seen.push(Buffer.from(r.value).toString());
      }
    })();
    await Bun.sleep(30);
    log.write(Buffer.from("two-")); // fills the file
    await Bun.sleep(30);
    log.write(Buffer.from("three-")); // rotates first
    await Bun.sleep(50);
    ctl.abort();
    await pump;
    log.close();
    expect(seen.join("")).toBe("one-two-three-");
  });
});

describe("task env", () => {
  test("ports, alloc facts, a few inherited variables, never the cluster secret; the task's env wins", () => {
    const j = job({ id: "web", groups: [{ name: "g", tasks: [{ name: "srv", command: "/bin/x", env: { MODE: "prod", CORRAL_TASK: "mine" }, ports: { http: {}, "admin-ui": {} } }] }] });
    const env = taskEnv({
      allocId: "a1", jobId: "web", namespace: "default", group: "g", index: 2, task: j.groups[0]!.tasks[0]!,
      allocDir: "/d/a1", taskDir: "/d/a1/tasks/srv", host: "10.0.0.5",
      ports: [{ task: "srv", label: "http", value: 20001, static: false }, { task: "srv", label: "admin-ui", value: 20002, static: false }, { task: "other", label: "http", value: 1, static: false }],
      agentEnv: { PATH: "/usr/bin", CORRAL_CLUSTER_SECRET: "s3cret", HOME: "/root" },
    });
    expect(env).toMatchObject({
      PATH: "/usr/bin", HOME: "/root", CORRAL_ALLOC_ID: "a1", CORRAL_JOB_ID: "web", CORRAL_ALLOC_INDEX: "2", CORRAL_TASK: "mine",
      CORRAL_ALLOC_DIR: "/d/a1", CORRAL_PORT_HTTP: "20001", CORRAL_ADDR_HTTP: "10.0.0.5:20001", CORRAL_PORT_ADMIN_UI: "20002", MODE: "prod",
    });
    expect(env.CORRAL_CLUSTER_SECRET).toBeUndefined();
    expect(envLabel("metrics-v2")).toBe("METRICS_V2");
  });
});

describe("status reports", () => {
  test("transitions only, batched, retried with the newest state", async () => {
    const sent: any[] = [];
    let fail = 1;
    const r = new StatusReporter({
      nodeId: "n1", now: () => 1, log: silentLogger, debounceMs: 5, maxBackoffMs: 20,
      propose: async (cmd) => {
        if (fail-- > 0) throw new Error("no leader");
        sent.push(cmd);
        return { index: 1, result: { ok: true } };
      },
    });
    r.report({ allocId: "a", clientStatus: "pending", description: "", taskStates: {} });
    r.report({ allocId: "a", clientStatus: "running", description: "", taskStates: {} });
    r.report({ allocId: "b", clientStatus: "running", description: "", taskStates: {} });
    await Bun.sleep(400);
    expect(sent).toHaveLength(1);
    expect(sent[0].updates.map((u: any) => [u.allocId, u.clientStatus])).toEqual([["a", "running"], ["b", "running"]]);
    r.report({ allocId: "a", clientStatus: "running", description: "", taskStates: {} }); // unchanged: not sent
    await Bun.sleep(50);
    expect(sent).toHaveLength(1);
    r.stop();
  });
});

describe("services and config", () => {
  test("a task's service becomes a Consul definition with its dynamic port and checks", () => {
    const j = job({
      id: "web", groups: [{ name: "g", tasks: [{ name: "srv", command: "/bin/x", ports: { http: {} },
        service: { name: "web", tags: ["v1"], port: "http", checks: [{ type: "http", path: "/health", interval: "2s", timeout: "1s" }, { type: "tcp" }, { type: "ttl", ttl: "30s" }] } }] }],
    });
    const alloc = { id: "a1", namespace: "default", jobId: "web", jobType: "service", groupName: "g", taskGroupIndex: 0, nodeId: "n", desiredStatus: "run", desiredDescription: "", clientStatus: "running", groupSpec: j.groups[0]!, ports: [{ task: "srv", label: "http", value: 23456, static: false }] } as NodeAlloc;
    const def = serviceDefinition(alloc, "srv", "10.0.0.5")!;
    expect(def).toMatchObject({ ID: "_corral-task-a1-srv", Name: "web", Tags: ["v1"], Address: "10.0.0.5", Port: 23456, Meta: { corral_alloc_id: "a1" } });
    expect(def.Checks).toEqual([
      { CheckID: "_corral-task-a1-srv:0", Name: "web-http-0", HTTP: "http://10.0.0.5:23456/health", Interval: "2000ms", Timeout: "1000ms" },
      { CheckID: "_corral-task-a1-srv:1", Name: "web-tcp-1", TCP: "10.0.0.5:23456", Interval: "10000ms", Timeout: "2000ms" },
      { CheckID: "_corral-task-a1-srv:2", Name: "web-ttl-2", TTL: "30000ms" },
    ]);
    expect(serviceDefinition({ ...alloc, groupSpec: { ...alloc.groupSpec, tasks: [{ ...alloc.groupSpec.tasks[0]!, service: undefined }] } }, "srv", "h")).toBeUndefined();
  });

  test("[plugins.exec] defaults and refusals", () => {
    expect(execConfigSchema.parse({})).toEqual({
      max_log_file_bytes: 10 * 1024 * 1024, max_log_files: 5, cgroup_root: "/sys/fs/cgroup", kill_timeout: 5000, watchdog_interval: 500, run_checks: "auto",
      user: "nobody", allow_raw: false, denied_host_uids: "", denied_host_gids: "",
      bwrap: "/usr/bin/bwrap", chroot_env: [...DEFAULT_CHROOT_ENV],
      artifact_max_bytes: 1024 ** 3, artifact_timeout: 300_000, artifact_allowed_hosts: "", artifact_cache_bytes: 5 * 1024 ** 3,
      exec_max_sessions: 32, exec_max_frame_bytes: 64 * 1024,
      container_runtime: "", container_auth: {}, container_insecure_registries: [], container_allowed_registries: [],
      container_cache_bytes: 10 * 1024 ** 3, container_images_bytes: 20 * 1024 ** 3, container_max_unpacked_bytes: 8 * 1024 ** 3, container_pull_timeout: 600_000,
      container_allow_privileged: false, container_cache_max_age: 0,
      container_allow_caps: ["chown", "dac_override", "fsetid", "fowner", "setgid", "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write"],
    });
    expect(execConfigSchema.safeParse({ container_allow_caps: ["net_admin", "CAP_SYS_TIME", "all"] }).success).toBe(true);
    expect(execConfigSchema.safeParse({ container_allow_caps: ["net_admn"] }).error?.issues[0]?.message).toContain(`unknown capability "net_admn"`);
    expect(execConfigSchema.safeParse({ denied_host_uids: "0-999, 2000" }).success).toBe(true);
    expect(execConfigSchema.safeParse({ denied_host_uids: "999-0" }).success).toBe(false);
    expect(execConfigSchema.safeParse({ user: "root; rm" }).success).toBe(false);
    expect(execConfigSchema.parse({ max_log_file_bytes: "1MiB", kill_timeout: "1s" })).toMatchObject({ max_log_file_bytes: 1024 * 1024, kill_timeout: 1000 });
    expect(execConfigSchema.safeParse({ max_log_files: 0 }).success).toBe(false);
    expect(execConfigSchema.safeParse({ kill_timout: "1s" }).success).toBe(false);
    expect(execConfigSchema.parse({ run_checks: false }).run_checks).toBe(false);
    expect(execConfigSchema.safeParse({ run_checks: "yes" }).success).toBe(false);
  });
});

describe("config.example.toml", () => {
  test("the commented [plugins.exec] block holds the defaults", async () => {
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("smol-toml");
    const text = readFileSync(join(import.meta.dir, "..", "..", "config.example.toml"), "utf8");
    const rest = text.slice(text.indexOf("# [plugins.exec]")).split("\n").slice(1);
    const end = rest.findIndex((l) => /^# \[plugins\./.test(l));
    const block = (end < 0 ? rest : rest.slice(0, end)).filter((l) => /^# [a-z_]+ = /.test(l)).map((l) => l.slice(2)).join("\n");
    const parsed = execConfigSchema.parse(parse(block));
    expect(parsed).toEqual(execConfigSchema.parse({}));
    expect(Object.keys(parse(block)).sort()).toEqual(Object.keys(execConfigSchema.parse({})).sort());
  });
});

describe("supervisor", () => {
  test("an allocation stopped before it ran here is reported complete, once", async () => {
    const { Supervisor } = await import("../../plugins/exec/supervisor.ts");
    const reports: any[] = [];
    const reporter = { report: (r: any) => reports.push(r), forget: () => {} } as any;
    const sup = new Supervisor({ allocsDir: join(tmp(), "allocs") } as any, reporter, silentLogger);
    const j = job({ id: "web", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true" }] }] });
    const alloc = { id: "a1", namespace: "default", jobId: "web", jobType: "service", groupName: "g", taskGroupIndex: 0, nodeId: "n", ports: [], desiredStatus: "stop", desiredDescription: "job stopped", clientStatus: "pending", groupSpec: j.groups[0]! } as NodeAlloc;
    sup.reconcile([alloc]);
    expect(reports).toEqual([{ allocId: "a1", clientStatus: "complete", description: "job stopped", taskStates: {} }]);
    sup.reconcile([{ ...alloc, clientStatus: "complete" }]);
    expect(reports).toHaveLength(1);
    expect(sup.runners.size).toBe(0);
  });
});
