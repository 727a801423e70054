// Service and check names interpolated at submission, pure (docs/jobs.md
// "Interpolation"). A service name is what the submitter needs service:write
// on (core/acl/route-permissions.ts checks the parsed job), and it is what
// the node registers in the catalog. Were it interpolated on the node, the
// name checked and the name registered could differ: `${meta.x}` or
// `${attr.x}` would let node facts (and whoever can set dynamic node meta)
// choose a service outside the submitter's grant. So, as Nomad does for
// job-level values, a name may use only what is known when the job is
// submitted, and it is replaced here, before the ACL check and before the
// spec is stored: both read the same string.
import type { RawJob } from "./schema.ts";
import { canonicalName, envLabel, parseTemplate } from "../interpolate.ts";

export const SERVICE_NAME = /^[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?$/;
export const SERVICE_NAME_MAX = 63;

/** The values a name may use, by their CORRAL_* environment name. */
function submissionValues(job: RawJob, group: string, task: string): Record<string, string> {
  const v: Record<string, string> = {
    CORRAL_JOB_ID: job.id,
    CORRAL_NAMESPACE: job.namespace,
    CORRAL_GROUP: group,
    CORRAL_TASK: task,
  };
  for (const [k, val] of Object.entries(job.meta)) v[`CORRAL_META_${envLabel(k)}`] = val;
  return v;
}

const ALLOWED = "${CORRAL_JOB_ID}, ${CORRAL_NAMESPACE}, ${CORRAL_GROUP}, ${CORRAL_TASK}, ${CORRAL_META_<key of the job's meta>} (or their NOMAD_* spellings)";

/** `text` with its references replaced, or why one cannot be known at submission. */
function resolveName(text: string, values: Record<string, string>, job: RawJob): { ok: true; value: string } | { ok: false; error: string } {
  const p = parseTemplate(text);
  if (!p.ok) return p;
  let out = "";
  for (const part of p.parts) {
    if ("text" in part) {
      out += part.text;
      continue;
    }
    const bare = part.ref.startsWith("env.") ? part.ref.slice(4) : part.ref;
    const canon = canonicalName(bare);
    if (canon && Object.hasOwn(values, canon)) {
      out += values[canon];
      continue;
    }
    const dispatched = canon?.startsWith("CORRAL_META_") && job.parameterized;
    const why = dispatched
      ? `\${${part.ref}} is set per dispatch, not known when the job is submitted`
      : canon || /^(node|attr|meta)\./.test(part.ref)
        ? `\${${part.ref}} is known only once the task is placed (it may differ per node or allocation)`
        : `unknown variable \${${part.ref}}`;
    return { ok: false, error: `${why}; a name may use only values known at submission, because service:write is checked on the final name then: ${ALLOWED}` };
  }
  return { ok: true, value: out };
}

export interface NameProblem {
  path: string;
  message: string;
}

/**
 * The raw job with every `${...}` in service and check names replaced, or
 * each problem with its key path. Names are checked as DNS labels here, once
 * resolved (the schema lets a name with "$" through for this).
 */
export function resolveSubmissionNames(job: RawJob): { ok: true; job: RawJob } | { ok: false; errors: NameProblem[] } {
  const errors: NameProblem[] = [];
  const groups = job.groups.map((g, gi) => ({
    ...g,
    tasks: g.tasks.map((t, ti) => {
      const svc = t.service;
      if (!svc) return t;
      const at = `groups[${gi}].tasks[${ti}].service`;
      const values = submissionValues(job, g.name, t.name);
      let name = svc.name;
      if (name !== undefined && name.includes("$")) {
        const r = resolveName(name, values, job);
        if (!r.ok) errors.push({ path: `${at}.name`, message: r.error });
        else if (!SERVICE_NAME.test(r.value) || r.value.length > SERVICE_NAME_MAX) {
          errors.push({ path: `${at}.name`, message: `resolves to "${r.value.slice(0, 100)}", which is not a DNS label: letters, digits and "-", at most ${SERVICE_NAME_MAX}` });
        } else name = r.value;
      }
      const checks = svc.checks.map((c, ci) => {
        if (c.name === undefined || !c.name.includes("$")) return c;
        const r = resolveName(c.name, values, job);
        if (!r.ok) {
          errors.push({ path: `${at}.checks[${ci}].name`, message: r.error });
          return c;
        }
        return { ...c, name: r.value };
      });
      return { ...t, service: { ...svc, ...(name !== undefined ? { name } : {}), checks } };
    }),
  }));
  return errors.length ? { ok: false, errors } : { ok: true, job: { ...job, groups } };
}
