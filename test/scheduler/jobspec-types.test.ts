// The job spec's type-related keys: periodic, parameterized, meta, dispatch_payload, system counts.
import { describe, expect, test } from "bun:test";
import { parseJobSpec, validateJob } from "../../core/scheduler/jobspec.ts";

const base = (extra: Record<string, unknown>, task: Record<string, unknown> = {}) => ({
  id: "j", type: "batch", ...extra, groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/true", ...task }] }],
});
const errors = (doc: unknown) => {
  const r = validateJob(doc);
  return r.ok ? [] : r.errors;
};

describe("job types in the spec", () => {
  test("periodic and parameterized normalize to camelCase with defaults", () => {
    const p = validateJob(base({ periodic: { crons: ["*/5 * * * * * *"] }, meta: { team: "ops", n: 3 } }));
    expect(p.ok && p.job.periodic).toEqual({ crons: ["*/5 * * * * * *"], timeZone: "UTC", prohibitOverlap: false, enabled: true });
    expect(p.ok && p.job.meta).toEqual({ team: "ops", n: "3" });
    const q = validateJob(base({ parameterized: { meta_required: ["a"] } }, { dispatch_payload: { file: "in/x.json" } }));
    expect(q.ok && q.job.parameterized).toEqual({ payload: "optional", metaRequired: ["a"], metaOptional: [] });
    expect(q.ok && q.job.groups[0]!.tasks[0]!.dispatchPayload).toEqual({ file: "in/x.json" });
    // A job without them normalizes exactly as before (no new keys, no new version on re-register).
    const plain = validateJob(base({}));
    expect(plain.ok && Object.keys(plain.job).sort()).toEqual(["constraints", "groups", "id", "namespace", "priority", "type"]);
  });

  test("every problem with its key path", () => {
    expect(errors(base({ periodic: { crons: ["61 * * * *", "@often"], time_zone: "Mars/Olympus" } }))).toEqual([
      { path: "periodic.crons[0]", message: 'minute field "61": 61 is outside 0-59' },
      { path: "periodic.crons[1]", message: 'unknown shortcut "@often" (have: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)' },
      { path: "periodic.time_zone", message: 'unknown time zone "Mars/Olympus" (an IANA name such as "UTC" or "Europe/Berlin")' },
    ]);
    expect(errors(base({ type: "service", periodic: { crons: ["@daily"] } }))).toEqual([
      { path: "periodic", message: 'only batch and sysbatch jobs can be periodic (this one is "service")' },
    ]);
    expect(errors(base({ periodic: { crons: ["@daily"] }, parameterized: {} }))).toEqual([
      { path: "periodic", message: "a job is periodic or parameterized, not both" },
    ]);
    expect(errors(base({ parameterized: { payload: "maybe", meta_required: ["9x"] } })).map((e) => e.path)).toEqual([
      "parameterized.payload", "parameterized.meta_required[0]",
    ]);
    expect(errors(base({}, { dispatch_payload: { file: "../etc/passwd" } }))).toEqual([
      { path: "groups[0].tasks[0].dispatch_payload.file", message: 'must be a relative path inside the task directory (no leading "/", no "..")' },
    ]);
    expect(errors(base({ periodic: { crons: ["@daily"], bogus: 1 } }))).toEqual([{ path: "periodic.bogus", message: "unknown key" }]);
  });

  test("TOML with a [periodic] table and a sysbatch type", () => {
    const r = parseJobSpec('id = "x"\ntype = "sysbatch"\n[periodic]\ncrons = ["@hourly"]\ntime_zone = "Europe/Berlin"\n[[groups]]\nname = "g"\n[[groups.tasks]]\nname = "t"\ncommand = "/bin/true"\n', "toml");
    expect(r.ok && r.job.type).toBe("sysbatch");
    expect(r.ok && r.job.periodic?.timeZone).toBe("Europe/Berlin");
    expect(r.ok && r.job.groups[0]!.restart.attempts).toBe(3); // batch defaults
  });
});
