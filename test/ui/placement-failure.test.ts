// The dashboard's job page says why a job is not placed (issue 15, point 8):
// the same "Placement failure" block as `corral job status`, in a real
// browser against a real dev node, from GET /v1/job/{id}'s placementFailure.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { HAVE_CHROMIUM, horizontalOverflow, launch, openPage, shot } from "./browser.ts";

let node: CorralProcess;
let browser: Browser;
let page: Page;
let errors: string[];

describe.skipIf(!HAVE_CHROMIUM)("job page: placement failure", () => {
  beforeAll(async () => {
    [node, browser] = await Promise.all([startCorral({ role: "dev" }), launch()]);
    await eventually(async () => (await getJson<any[]>(node.url + "/v1/nodes")).body.length === 1, 15_000);
    ({ page, errors } = await openPage(browser));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await killAll();
  });

  test("a job no node can take shows the constraint that filtered the node", async () => {
    const job = { id: "nowhere", namespace: "ops", constraints: [{ attribute: "${attr.kernel.name}", value: "plan9" }], groups: [{ name: "main", count: 3, tasks: [{ name: "t", command: "/bin/true" }] }] };
    const reg = await getJson(node.url + "/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job) });
    expect(reg.status).toBe(200);
    await eventually(async () => (await getJson(`${node.url}/v1/evaluation/${reg.body.evalId}`)).body.status === "blocked", 15_000);
    await page.goto(`${node.url}/ui#/jobs/ops/nowhere`);
    const block = page.getByRole("status").filter({ hasText: "Placement failure" });
    await block.waitFor({ timeout: 15_000 });
    const text = (await block.textContent()) ?? "";
    expect(text).toMatch(/Placement failure \(evaluation [0-9a-f]{8}, blocked\)/);
    expect(text).toContain('Task Group "main" (failed to place 3 allocations):');
    expect(text).toContain("* Constraint `${attr.kernel.name} = plan9`: 1 node excluded by filter");
    await shot(page, "job-placement-failure");
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await horizontalOverflow(page)).toBe(0);
    expect(errors).toEqual([]);
  }, 60_000);
});
