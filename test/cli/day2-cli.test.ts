// The CLI past the first ten minutes (issue 20, point 7), as a user runs it:
// every command group answers --help, a mistyped command or action gets a
// "did you mean", lists that ACLs filtered say so, durations read as people
// write them, and the job progress bar ends at the count it reports.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, killAll, tempDir } from "../helpers/proc.ts";
import { startAclNode, tokenWith } from "../acl/helpers.ts";
import { corralEach, type CliResult } from "../helpers/cli-batch.ts";
import { formatDuration, parseDuration } from "../../core/config/duration.ts";
import { editDistance, suggest } from "../../core/cli/suggest.ts";
import { judge, type AllocJson } from "../../core/cli/commands/job-run.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";

afterAll(() => killAll());

function corral(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("--help on every command and command group", () => {
  // The groups the issue names, plus every word `corral --help` lists.
  const top = corral(["--help"]);
  const listed = [...top.out.matchAll(/^ {2}(\S+(?: \S+)?)\s{2,}/gm)].map((m) => m[1]!);
  const groups = ["job", "alloc", "acl", "operator", "service", "node", "catalog", "config"];
  const words = [...new Set(listed)];

  // Every help invocation below is its own real CLI process; they are
  // independent, so they all start up front a few at a time
  // (test/helpers/cli-batch.ts) and each test then checks the ones it names.
  const invocations = [
    ...groups.flatMap((g) => [[g, "--help"], [g, "-h"]]),
    ...words.map((c) => [...c.split(" "), "--help"]),
    ["help", "job"],
    ["help", "job", "run"],
    ["job"],
  ];
  const ran = new Map<string, CliResult>();
  const help = (...args: string[]): CliResult => {
    const r = ran.get(args.join("\0"));
    if (!r) throw new Error(`corral ${args.join(" ")} was not run`);
    return r;
  };
  beforeAll(async () => {
    const results = await corralEach(invocations);
    invocations.forEach((args, i) => ran.set(args.join("\0"), results[i]!));
  }, 300_000);

  test("the top help lists the commands", () => {
    expect(top.code).toBe(0);
    for (const c of ["job run", "alloc status", "acl token", "intention", "operator raft", "kv", "plugins", "services", "service register", "node drain", "catalog nodes", "monitor"]) {
      expect(listed).toContain(c);
    }
  });

  test.each(groups)("corral %s --help lists its subcommands, exit 0", (group) => {
    const r = help(group, "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: corral ${group} <subcommand>`);
    for (const full of listed.filter((c) => c.startsWith(group + " "))) expect(r.out).toContain(`  ${full.slice(group.length + 1)} `);
    expect(help(group, "-h").code).toBe(0);
  });

  test("every listed command answers --help with its usage", () => {
    expect(words.length).toBeGreaterThan(20);
    for (const c of words) {
      const r = help(...c.split(" "), "--help");
      expect({ c, code: r.code }).toEqual({ c, code: 0 });
      expect(r.out).toContain(`Usage: corral ${c}`);
    }
  });

  test("corral help WORDS is WORDS --help", () => {
    expect(help("help", "job").out).toContain("Usage: corral job <subcommand>");
    expect(help("help", "job", "run").out).toContain("Usage: corral job run FILE");
  });

  test("a group without a subcommand is a usage error that shows the group's help", () => {
    const r = help("job");
    expect(r.code).toBe(2);
    expect(r.err).toContain("corral job: a subcommand is needed");
    expect(r.err).toContain("Usage: corral job <subcommand>");
  });
});

describe("did you mean", () => {
  test("edit distance, and only plausible typos are suggested", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(suggest("nodse", ["nodes", "kv", "job"])).toEqual(["nodes"]);
    expect(suggest("gte", ["get", "put", "delete"])).toEqual(["get"]);
    expect(suggest("frobnicate", ["nodes", "kv", "job"])).toEqual([]);
    expect(suggest("oper", ["operator", "nodes"])).toEqual(["operator"]);
  });

  test("an unknown command", async () => {
    const [r, typo, none] = await corralEach([["nodse"], ["servcies"], ["frobnicate"]]);
    expect(r!.code).toBe(2);
    expect(r!.err).toContain('unknown command "nodse" (did you mean "node');
    expect(typo!.err).toContain('(did you mean "services"?)');
    expect(none!.code).toBe(2);
    expect(none!.err).toContain('unknown command "frobnicate"');
    expect(none!.err).not.toContain("did you mean");
  }, 120_000);

  test("an unknown subcommand of a group", async () => {
    const [r, snap] = await corralEach([["job", "stauts"], ["operator", "snapshto", "save", "x"]]);
    expect(r!.code).toBe(2);
    expect(r!.err).toContain('unknown command "job stauts" (did you mean "status"?)');
    expect(snap!.err).toContain('(did you mean "snapshot"?)');
  }, 120_000);

  test("an unknown action of a command, before anything is sent", async () => {
    const [r, plugins, peers, token, flag] = await corralEach([
      { args: ["kv", "gte", "a"], env: { CORRAL_ADDR: "http://127.0.0.1:9" } },
      ["plugins", "lst"],
      ["operator", "raft", "list-peer"],
      ["acl", "token", "craete"],
      ["kv", "get", "a", "--recurce"],
    ]);
    expect(r!.code).toBe(2);
    expect(r!.err).toContain('unknown action "gte" (did you mean "get"?)');
    expect(r!.err).not.toContain("cannot reach");
    expect(plugins!.err).toContain('(did you mean "list"?)');
    expect(peers!.err).toContain('(did you mean "list-peers"?)');
    expect(token!.err).toContain('(did you mean "create"?)');
    expect(flag!.code).toBe(2);
    expect(flag!.err).toContain('unknown flag --recurce (did you mean "recurse"?)');
  }, 120_000);
});

describe("results hidden by ACLs", () => {
  test("nodes, services and kv listings say that ACLs filtered them; an unfiltered one does not", async () => {
    const n = await startAclNode();
    // May read services but no node: /v1/nodes comes back empty, filtered.
    const limited = await tokenWith(n, "svc-only", 'service_prefix "" { policy = "read" }\nkey_prefix "pub/" { policy = "read" }\n');
    const mgmt = { CORRAL_ADDR: n.url, CORRAL_TOKEN: n.management };
    const mine = { CORRAL_ADDR: n.url, CORRAL_TOKEN: limited.secret };
    const puts = await corralEach([["kv", "put", "pub/a", "1"], ["kv", "put", "secret/b", "2"]], mgmt);
    expect(puts.map((p) => p.code)).toEqual([0, 0]);

    // Four independent reads, run side by side.
    const [hidden, asJson, kv, all] = await corralEach([
      { args: ["nodes"], env: mine },
      { args: ["nodes", "--json"], env: mine },
      { args: ["kv", "get", "", "--recurse"], env: mine },
      { args: ["nodes"], env: mgmt },
    ]) as [CliResult, CliResult, CliResult, CliResult];
    expect(hidden.code).toBe(0);
    expect(hidden.err).toContain("ACLs may have hidden some results");
    expect(JSON.parse(asJson.out)).toEqual([]); // stdout stays clean JSON; the note is on stderr
    expect(asJson.err).toContain("ACLs may have hidden some results");

    expect(kv.out).toContain("pub/a: 1");
    expect(kv.out).not.toContain("secret/b");
    expect(kv.err).toContain("ACLs may have hidden some results");

    expect(all.code).toBe(0);
    expect(all.err).not.toContain("hidden");
    expect(all.out).toContain("ready");
  }, 120_000);
});

describe("durations as people write them", () => {
  test("one formatter: 30m, 1h, 1h30m, 250ms, 1.5s; parseDuration reads each back", () => {
    expect(formatDuration(1_800_000)).toBe("30m");
    expect(formatDuration(3_600_000)).toBe("1h");
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(1500)).toBe("1.5s");
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(0)).toBe("0s");
    for (const ms of [1, 250, 1500, 60_000, 90_500, 1_800_000, 3_600_000, 5_400_000, 86_400_000 + 1]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  test("a config error names durations as written, not as milliseconds", () => {
    const f = join(tempDir(), "corral.toml");
    writeFileSync(f, `[cluster]\nsecret = "0123456789abcdef0123"\n[raft]\nheartbeat_interval = "30m"\nelection_timeout = "1h"\n[leader]\nmetrics_resolution = "2h"\nmetrics_retention = "1h30m"\n`);
    const r = corral(["config", "check", f]);
    expect(r.code).toBe(2);
    expect(r.err + r.out).toContain("(2h > 1h30m)");
    expect(r.err + r.out).not.toMatch(/\d{5,}\s?ms/);
  });

  test("--timeout takes every duration the config takes", async () => {
    const [r, soon] = await corralEach([
      ["job", "run", "/nonexistent.toml", "--timeout", "1h30m"],
      ["job", "run", "x.toml", "--timeout", "soon"],
    ]);
    expect(r!.err).not.toContain("--timeout takes");
    expect(r!.err).toContain("cannot read /nonexistent.toml");
    expect(soon!.err).toContain('--timeout takes a duration such as "90s", "5m" or "1h30m", not "soon"');
  }, 120_000);
});

describe("the progress bar ends at the true count", () => {
  const spec = { id: "web", type: "service", groups: [{ name: "web", count: 3, tasks: [{ name: "t", driver: "exec", config: { command: "sleep" } }] }] } as any;
  const hash = groupHash(spec, spec.groups[0]);
  const alloc = (i: number, jobVersion: number): AllocJson => ({
    id: `a${i}`, jobVersion, groupName: "web", groupHash: hash, taskGroupIndex: i, nodeId: "n", nodeName: "n",
    desiredStatus: "run", desiredDescription: "", clientStatus: "running", clientDescription: "", health: "healthy", ports: [], taskStates: {},
  });

  test("allocations an update kept (same tasks, older job version) count toward the bar", () => {
    // Version 2 scaled the group from 1 to 3: a0 stays at version 1.
    const job = { type: "service", version: 2, spec, deployments: [{ jobVersion: 2, status: "successful", statusDescription: "every allocation is healthy" }] };
    const v = judge(job, [alloc(0, 1), alloc(1, 2), alloc(2, 2)], 2, "complete");
    expect(v.done).toBe(true);
    expect(v.details[0]).toBe("Deployment successful: 3 allocation(s) healthy");
    expect(v.line).toContain("] 3/3 3 running, 3 healthy");
  });

  test("an allocation of an old version whose tasks changed does not count", () => {
    const job = { type: "service", version: 2, spec, deployments: [{ jobVersion: 2, status: "running", statusDescription: "" }] };
    const v = judge(job, [{ ...alloc(0, 1), groupHash: "other" }, alloc(1, 2)], 2, "complete");
    expect(v.done).toBeUndefined();
    expect(v.line).toContain("] 1/3 1 running, 1 healthy");
  });
});
