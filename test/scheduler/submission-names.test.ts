// Service and check names interpolated at submission
// (core/scheduler/jobspec/submission-names.ts), through validateJob: the
// job-level values resolve, the default check names follow the resolved
// service name, and what is known only later is refused with its key path.
import { describe, expect, test } from "bun:test";
import { validateJob } from "../../core/scheduler/index.ts";

const job = (service: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: "shop", namespace: "prod", meta: { tier: "gold" }, ...extra,
  groups: [{ name: "web", tasks: [{ name: "api", command: "/bin/true", ports: { http: {} }, service: { port: "http", ...service } }] }],
});

describe("service names at submission", () => {
  test("job id, namespace, group, task and job meta resolve (NOMAD_* spellings too); default check names follow", () => {
    const r = validateJob(job({ name: "${NOMAD_JOB_NAME}-${CORRAL_NAMESPACE}-${NOMAD_GROUP_NAME}-${CORRAL_TASK}-${NOMAD_META_tier}", checks: [{ type: "tcp" }, { type: "tcp", name: "${env.CORRAL_JOB_ID}-up" }] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const svc = r.job.groups[0]!.tasks[0]!.service!;
    expect(svc.name).toBe("shop-prod-web-api-gold");
    expect(svc.checks.map((c) => c.name)).toEqual(["shop-prod-web-api-gold-tcp-0", "shop-up"]);
  });

  test("a parameterized job's dispatch meta is refused (known per dispatch); its own meta is not", () => {
    const param = { type: "batch", parameterized: { meta_required: ["region"] } };
    const bad = validateJob(job({ name: "web-${CORRAL_META_region}" }, param));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatchObject({ path: "groups[0].tasks[0].service.name", message: expect.stringContaining("set per dispatch") });
    expect(validateJob(job({ name: "web-${CORRAL_META_tier}" }, param)).ok).toBe(true);
  });

  test("a malformed reference, or a literal name that is no DNS label, is refused with the key path", () => {
    for (const name of ["web-${", "${}", "web_1", "x".repeat(64)]) {
      const r = validateJob(job({ name }));
      expect({ name, ok: r.ok }).toEqual({ name, ok: false });
      if (!r.ok) expect(r.errors.map((e) => e.path)).toContain("groups[0].tasks[0].service.name");
    }
    const long = validateJob(job({ name: "${CORRAL_JOB_ID}-" + "x".repeat(60) }));
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.errors[0]!.message).toContain("not a DNS label");
  });
});
