// Each job version keeps its submit time: the RegisterJob command's `at`
// (carried by the log entry, so every replica stores the same), not the
// applying node's clock. An unchanged resubmission makes no version and
// leaves the time of the version it matches; the CLI prints Nomad's
// "Submit Date" (RFC 3339, UTC) and "-" when the time is unknown.
import { afterEach, describe, expect, test } from "bun:test";
import { jobVersions } from "../../core/store/schema-jobs.ts";
import { submitDate } from "../../core/cli/commands/job-versions.ts";
import { simpleJob, testState, uuid, type TestState } from "../jobs/fixtures.ts";

let t: TestState | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe("job version submit time", () => {
  test("each version stores its command's time; an unchanged resubmission does not move it", async () => {
    t = await testState();
    const at0 = Date.UTC(2026, 0, 2, 3, 4, 5);
    const at1 = at0 + 60_000;
    await t.propose({ type: "RegisterJob", v: 1, at: at0, job: simpleJob("web"), evalId: uuid() });
    await t.propose({ type: "RegisterJob", v: 1, at: at1, job: simpleJob("web", { count: 2 }), evalId: uuid() });
    await t.propose({ type: "RegisterJob", v: 1, at: at1 + 5, job: simpleJob("web", { count: 2 }), evalId: uuid() });
    expect(t.state.jobs.jobVersionSubmittedAt("default", "web", 0)).toBe(at0);
    expect(t.state.jobs.jobVersionSubmittedAt("default", "web", 1)).toBe(at1);
    expect(t.state.jobs.jobVersionSubmittedAt("default", "web", 2)).toBeUndefined();
    const rows = t.store.db.select().from(jobVersions).all();
    expect(rows.map((r) => [r.version, r.submittedAt])).toEqual([[0, at0], [1, at1]]);
  });

  test("Submit Date is RFC 3339 in UTC to the second; unknown is -", () => {
    expect(submitDate(Date.UTC(2026, 0, 2, 3, 4, 5) + 678)).toBe("2026-01-02T03:04:05Z");
    expect(submitDate(0)).toBe("-");
    expect(submitDate(undefined)).toBe("-");
  });
});
