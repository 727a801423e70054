// The dashboard's node page shows the node's meta, and follows
// `corral node meta apply` without a reload (headless Chromium against a
// real dev process whose config sets rack = "r1").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { HAVE_CHROMIUM, launch, openPage } from "./browser.ts";

declare const document: any;

let node: CorralProcess;
let browser: Browser;
let page: Page;
let errors: string[];

describe.skipIf(!HAVE_CHROMIUM)("node page meta (dev node, headless Chromium)", () => {
  beforeAll(async () => {
    [node, browser] = await Promise.all([startCorral({ role: "dev", config: `[node]\nname = "meta-ui"\nmeta = { rack = "r1" }\n` }), launch()]);
    await eventually(async () => (await getJson<any[]>(node.url + "/v1/nodes")).body[0], 15_000);
    ({ page, errors } = await openPage(browser));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await killAll();
  });

  test("the facts list the meta; an apply shows without reloading", async () => {
    await page.goto(`${node.url}/ui#/nodes/meta-ui`);
    await page.getByRole("heading", { level: 1, name: "meta-ui" }).waitFor();
    const metaFact = () => page.evaluate(() => {
      const dt = [...document.querySelectorAll("dt")].find((e: any) => e.textContent === "Meta");
      return dt?.nextElementSibling?.textContent ?? null;
    });
    await page.waitForFunction(() => [...document.querySelectorAll("dt")].some((e: any) => e.textContent === "Meta"), undefined, { timeout: 15_000 });
    expect(await metaFact()).toBe("rack=r1");
    const r = await getJson(node.url + "/v1/client/metadata", { method: "POST", body: JSON.stringify({ Meta: { rack: "r2", zone: "a" } }), headers: { "content-type": "application/json" } });
    expect(r.status).toBe(200);
    await page.waitForFunction(() => {
      const dt = [...document.querySelectorAll("dt")].find((e: any) => e.textContent === "Meta");
      return dt?.nextElementSibling?.textContent === "rack=r2, zone=a";
    }, undefined, { timeout: 15_000 });
    expect(errors).toEqual([]);
  }, 60_000);
});
