// The job page's deployment panel in a real browser, ACLs on: per group the
// canaries placed, healthy and promoted; a Promote button that is inert
// (with the reason) for a read-only token and, for a token with job write,
// calls POST /v1/deployment/promote/{id} with that token: the deployment
// is then promoted and finishes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { eventually, killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { HAVE_CHROMIUM, launch, openPage, shot, signIn } from "./browser.ts";

const PAGE_READS = `node_prefix "" { policy = "read" }\nevent_prefix "" { policy = "read" }\n`;

let n: AclNode;
let browser: Browser;
let reader = "";
let writer = "";

function job(version: string, canary = 0) {
  return {
    id: "ui-canary",
    groups: [{
      name: "web", count: 1,
      update: { min_healthy_time: "1s", healthy_deadline: "2m", canary },
      tasks: [{ name: "t", command: "/bin/sleep", args: ["600"], env: { VERSION: version }, resources: { cpu: 50, memory: 32 } }],
    }],
  };
}

const latest = async () => ((await call(n.url, "GET", "/v1/job/ui-canary/deployments", n.management)).body as any[])[0];

describe.skipIf(!HAVE_CHROMIUM)("dashboard: a deployment's canaries and the Promote button", () => {
  beforeAll(async () => {
    [n, browser] = await Promise.all([startAclNode(), launch()]);
    reader = (await tokenWith(n, "ui-dep-read", PAGE_READS + `job "ui-canary" { policy = "read" }`)).secret;
    writer = (await tokenWith(n, "ui-dep-write", PAGE_READS + `job "ui-canary" { policy = "write" }`)).secret;
    for (const v of [job("0"), job("1", 1)]) {
      const r = await call(n.url, "POST", "/v1/jobs", n.management, v);
      if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
      if (v.groups[0]!.update.canary === 0) await eventually(async () => (await latest())?.Status === "successful", 30_000);
    }
    await eventually(async () => {
      const d = await latest();
      return d?.JobVersion === 1 && d.TaskGroups.web.HealthyAllocs === 1;
    }, 30_000);
  }, 90_000);

  afterAll(async () => {
    await call(n.url, "DELETE", "/v1/job/ui-canary?purge", n.management).catch(() => {});
    await browser?.close();
    await Bun.sleep(1000);
    await killAll();
  });

  test("a read-only token sees the canaries and an inert Promote with the reason", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(n.url + "/ui#/jobs/default/ui-canary");
    await signIn(page, reader);
    const panel = page.locator(".deployment");
    await panel.waitFor({ timeout: 15_000 });
    const row = panel.locator("tbody tr", { hasText: "web" });
    expect((await row.locator("td").allTextContents()).map((t) => t.trim())).toEqual(["1", "1 / 1", "1", "0", "no"]);
    const promote = page.getByRole("button", { name: /Promote deployment/ });
    await eventually(async () => (await promote.getAttribute("aria-disabled")) === "true", 10_000);
    await page.getByText(`Your token may not do this: it needs job write on "ui-canary".`).waitFor();
    await promote.dispatchEvent("click");
    await Bun.sleep(500);
    expect((await latest()).TaskGroups.web.Promoted).toBe(false);
    await shot(page, "deployment-read-only");
    expect(errors).toEqual([]);
  }, 60_000);

  test("a token with job write promotes through the API with its own token; the rollout then finishes", async () => {
    const { page, errors } = await openPage(browser);
    const sent: Record<string, string>[] = [];
    page.on("request", (r) => r.url().includes("/v1/deployment/promote/") && sent.push({ method: r.method(), token: r.headers()["x-consul-token"] ?? "", body: r.postData() ?? "" }));
    await page.goto(n.url + "/ui#/jobs/default/ui-canary");
    await signIn(page, writer);
    const promote = page.getByRole("button", { name: /Promote deployment/ });
    await promote.waitFor({ timeout: 15_000 });
    await promote.click();
    await page.getByText(/Promoted web; the rollout continues/).waitFor({ timeout: 10_000 });
    expect(sent).toEqual([{ method: "POST", token: writer, body: JSON.stringify({ All: true }) }]);
    const d = await eventually(async () => {
      const x = await latest();
      return x.Status === "successful" && x;
    }, 30_000);
    expect(d.TaskGroups.web.Promoted).toBe(true);
    // The page follows: the panel shows the finished deployment, without a Promote button.
    await page.locator(".deployment .badge-successful").waitFor({ timeout: 10_000 });
    expect(await promote.count()).toBe(0);
    await shot(page, "deployment-promoted");
    expect(errors).toEqual([]);
  }, 60_000);
});
