// Deployment events (a status change, a promotion) name only the deployment:
// a token with job read on its job sees them, another job's token does not,
// and an unknown deployment is shown only to a token reading every job.
// Before the deployment lookup these events were hidden from every
// job-scoped token, so a dashboard signed in with one never saw a rollout end.
import { expect, test } from "bun:test";
import { eventVisible, type EventNames } from "../../core/acl/event-rules.ts";
import { compileAuthorizer } from "../../core/acl/policy.ts";
import { parseRules } from "../../core/acl/rules.ts";
import { eventsOf, type ClusterEvent } from "../../core/state/events.ts";

const authz = (rules: string) => compileAuthorizer({ policies: [parseRules(rules)], management: false, defaultAllow: false });
const names: EventNames = { jobOfAlloc: () => undefined, nodeName: () => undefined, jobOfDeployment: (id) => ({ "d-web": "web" })[id] };

test("deployment events follow job read on the deployment's job", () => {
  const web = authz(`event_prefix "" { policy = "read" }\njob "web" { policy = "read" }`);
  const other = authz(`event_prefix "" { policy = "read" }\njob "db" { policy = "read" }`);
  const all = authz(`event_prefix "" { policy = "read" }\njob_prefix "" { policy = "read" }`);
  const events: ClusterEvent[] = [
    ...eventsOf(1, { type: "UpdateDeployment", v: 1, at: 0, health: [], deployments: [{ id: "d-web", status: "successful", description: "" }] } as never),
    ...eventsOf(1, { type: "PromoteDeployment", v: 1, at: 0, deploymentId: "d-web", evalId: "e1" } as never),
    ...eventsOf(1, { type: "FailDeployment", v: 1, at: 0, deploymentId: "d-web", evalId: "e2" } as never),
  ];
  expect(events.map((e) => e.type)).toEqual(["DeploymentStatusChanged", "DeploymentPromoted", "DeploymentStatusChanged"]);
  for (const e of events) {
    expect([e.type, eventVisible(e, web, names)]).toEqual([e.type, true]);
    expect([e.type, eventVisible(e, other, names)]).toEqual([e.type, false]);
  }
  const unknown = { ...events[0]!, payload: { deploymentId: "d-gone", status: "failed" } };
  expect(eventVisible(unknown, web, names)).toBe(false);
  expect(eventVisible(unknown, all, names)).toBe(true);
});
