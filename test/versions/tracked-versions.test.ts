// leader.job_tracked_versions bounds the versions a job keeps: older ones
// are gone from history and cannot be reverted to; an identical
// re-submission is not a version.
import { afterAll, expect, test } from "bun:test";
import { getJson, killAll, startCorral } from "../helpers/proc.ts";

afterAll(killAll);

const job = (count: number) => ({
  id: "kept", type: "batch",
  groups: [{ name: "g", count, tasks: [{ name: "t", command: "/bin/true", args: [], resources: { cpu: 10, memory: 16 } }] }],
});
const post = (url: string, body: unknown) => getJson(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

test("job_tracked_versions = 2 keeps the newest two versions", async () => {
  const n = await startCorral({ role: "dev", config: "[leader]\njob_tracked_versions = 2\n[plugins]\nenabled = []\n" });
  for (const c of [0, 1, 2, 3]) expect((await post(n.url + "/v1/jobs", job(c))).body.version).toBe(c);
  const again = await post(n.url + "/v1/jobs", job(3));
  expect(again.body).toMatchObject({ version: 3, changed: false });
  const v = await getJson(n.url + "/v1/job/kept/versions");
  expect(v.body.Versions.map((x: any) => x.Version)).toEqual([3, 2]);
  expect((await getJson(n.url + "/v1/job/kept")).body.versions).toEqual([3, 2]);
  const gone = await post(n.url + "/v1/job/kept/revert", { JobVersion: 1 });
  expect(gone.status).toBe(404);
  expect(gone.body.code).toBe("JOB_VERSION_NOT_FOUND");
  const ok = await post(n.url + "/v1/job/kept/revert", { JobVersion: 2 });
  expect(ok.body).toMatchObject({ version: 4, changed: true });
  expect((await getJson(n.url + "/v1/job/kept/versions")).body.Versions.map((x: any) => x.Version)).toEqual([4, 3]);
}, 60_000);

test("a stop moves the job modify index: a check-index taken before it is refused", async () => {
  const n = await startCorral({ role: "dev", config: "[plugins]\nenabled = []\n" });
  expect((await post(n.url + "/v1/jobs?JobModifyIndex=0", job(1))).status).toBe(200);
  const planned = (await post(n.url + "/v1/job/kept/plan", job(2))).body.jobModifyIndex;
  expect(planned).toBe((await getJson(n.url + "/v1/job/kept")).body.submitIndex);
  expect((await getJson(n.url + "/v1/job/kept", { method: "DELETE" })).status).toBe(200);
  const stale = await post(`${n.url}/v1/jobs?JobModifyIndex=${planned}`, job(2));
  expect(stale.status).toBe(409);
  expect((await getJson(n.url + "/v1/job/kept")).body.stop).toBe(true);
  const now = (await getJson(n.url + "/v1/job/kept")).body.submitIndex;
  const ok = await post(`${n.url}/v1/jobs?JobModifyIndex=${now}`, job(2));
  expect(ok.status).toBe(200);
  expect((await getJson(n.url + "/v1/job/kept")).body).toMatchObject({ stop: false, version: 1 });
}, 60_000);
