// The dashboard in a real browser (headless Chromium) against a real dev
// process: what the overview shows, that it follows the cluster live without
// reloading, that its controls change the cluster through the API, that it
// fits a phone, and that it loads nothing from anywhere else. Screenshots
// go to test-artifacts/ui/ (gitignored).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { HAVE_CHROMIUM, horizontalOverflow, launch, openPage, shot } from "./browser.ts";

// Code passed to page.evaluate runs in the browser; these stand for its globals here (the test project has no DOM types).
declare const document: any, window: any, sessionStorage: any, getComputedStyle: any, location: any;

let node: CorralProcess;
let browser: Browser;
let page: Page;
let requests: string[];
let errors: string[];
let nodeId = "";
let nodeName = "";

const put = (path: string, body?: unknown) =>
  fetch(node.url + path, {
    method: "PUT", body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    headers: body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {},
  });

describe.skipIf(!HAVE_CHROMIUM)("dashboard (dev node, headless Chromium)", () => {
  beforeAll(async () => {
    [node, browser] = await Promise.all([startCorral({ role: "dev" }), launch()]);
    const reg = await put("/v1/agent/service/register", { Name: "web", ID: "web-1", Port: 8080, Tags: ["v1"], Check: { CheckID: "web-ttl", Name: "web heartbeat", TTL: "10m" } });
    expect(reg.status).toBe(200);
    expect((await put("/v1/agent/check/pass/web-ttl")).status).toBe(200);
    await put("/v1/agent/service/register", { Name: "db", ID: "db-1", Port: 5432 });
    const self = await eventually(async () => (await getJson(node.url + "/v1/nodes")).body[0], 15_000);
    nodeId = self.id;
    nodeName = self.name;
    ({ page, requests, errors } = await openPage(browser));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await killAll();
    // Tasks outlive their node (docs/exec.md): the ticker job's process would run on.
    if (node) reapTasks(node.dataDir);
  });

  test("/ leads to the overview: the node, who leads, the services; every request same-origin", async () => {
    const res = await page.goto(node.url + "/");
    expect(new URL(page.url()).pathname).toBe("/ui");
    expect(res!.headers()["content-security-policy"]).toContain("default-src 'none'");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.locator("main table a", { hasText: nodeName }).first().waitFor({ timeout: 10_000 });
    await page.locator('[data-testid="raft-leader"]').waitFor();
    await page.getByRole("link", { name: "web", exact: true }).waitFor({ timeout: 10_000 });
    await page.getByRole("link", { name: "db", exact: true }).waitFor();
    // Semantic frame: one nav, one main, tables with column headers, a live region for events.
    expect(await page.locator("nav[aria-label=Main]").count()).toBe(1);
    expect(await page.locator("main").count()).toBe(1);
    expect(await page.locator("main table th[scope=col]").count()).toBeGreaterThan(5);
    expect(await page.locator("ol.feed[aria-live=polite]").count()).toBe(1);
    await page.locator(".live-live").waitFor({ timeout: 10_000 });
    // Sparklines fill once the leader holds a bucket of heartbeat samples.
    // A flat line (memory often is) has an empty bounding box, which playwright calls hidden: count points instead.
    await page.waitForFunction(
      () => [".spark-cpu .spark-line", ".spark-mem .spark-line"].every((sel) => (document.querySelector(sel)?.getAttribute("points") ?? "").trim().split(/\s+/).length >= 2),
      undefined,
      { timeout: 20_000 },
    );
    await shot(page, "overview-light");

    const origin = new URL(node.url).origin;
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    const urls = await page.evaluate(() => [...document.querySelectorAll("[src],[href]")].map((e: any) => e.href || e.src));
    expect(urls.length).toBeGreaterThan(3);
    expect(urls.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);

  test("the theme toggle switches to dark (and a dark system preference starts dark)", async () => {
    const toggle = page.getByRole("button", { name: "Dark theme" });
    expect(await toggle.getAttribute("aria-pressed")).toBe("false");
    await toggle.click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    await shot(page, "overview-dark");
    await toggle.click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");

    const dark = await openPage(browser, { dark: true });
    await dark.page.goto(node.url + "/ui");
    await dark.page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    expect(await dark.page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).not.toBe("rgb(245, 246, 248)"); // the light background
    await dark.page.context().close();
  }, 30_000);

  test("keyboard: the first Tab reaches the skip link, which moves focus to the page", async () => {
    await page.goto(`${node.url}/ui#/`);
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    expect(await page.evaluate(() => document.activeElement!.getBoundingClientRect().top)).toBeGreaterThanOrEqual(0);
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("MAIN");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => !!document.activeElement?.closest("main"))).toBe(true);
    // The visible focus ring of the focused control.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe("solid");
  }, 30_000);

  test("a TTL check turning critical shows on the overview within 2 s, without a reload", async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const critical = page.locator("main tr", { has: page.getByRole("link", { name: "web", exact: true }) }).locator('[data-status="critical"]');
    expect((await critical.textContent())?.trim()).toBe("0");
    const t0 = Date.now();
    expect((await put("/v1/agent/check/fail/web-ttl?note=down%20for%20the%20test")).status).toBe(200);
    await page.waitForFunction(
      () => [...document.querySelectorAll("main tr")].some((tr) => tr.querySelector("a")?.textContent === "web" && tr.querySelector('[data-status="critical"]')?.textContent?.trim() === "1"),
      undefined,
      { timeout: 2_000, polling: 50 },
    );
    const ms = Date.now() - t0;
    console.log(`  critical shown ${ms} ms after the PUT`);
    expect(ms).toBeLessThan(2_000);
    // The event feed saw it too, and the page never reloaded.
    await page.locator(".feed-item", { hasText: "CheckStatusChanged" }).first().waitFor({ timeout: 2_000 });
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
  }, 30_000);

  test("idle, the overview polls nothing but the metrics history", async () => {
    const before = requests.length;
    await page.waitForTimeout(3_000);
    const during = requests.slice(before).map((u) => new URL(u).pathname);
    expect(during.filter((p) => !/^\/v1\/node\/[^/]+\/metrics$/.test(p))).toEqual([]);
  }, 15_000);

  test("node page: CPU and memory charts from the metrics history; back and forward work", async () => {
    await page.locator("main table a", { hasText: nodeName }).first().click();
    expect(page.url()).toContain(`#/nodes/${nodeId}`);
    await page.getByRole("heading", { level: 1, name: nodeName }).waitFor();
    // Focus moved to the new page's heading.
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("H1");
    await page.locator(".chart-svg").nth(1).waitFor();
    await page.waitForFunction(() => document.querySelectorAll(".chart-svg polyline, .chart-svg circle").length >= 2, undefined, { timeout: 15_000 });
    expect(await page.locator("figcaption", { hasText: "CPU busy" }).count()).toBe(1);
    expect(await page.locator("figcaption", { hasText: "Memory in use" }).count()).toBe(1);
    await page.getByRole("rowheader", { name: "web heartbeat" }).waitFor();
    await shot(page, "node");

    await page.goBack();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.goForward();
    await page.getByRole("heading", { level: 1, name: nodeName }).waitFor();
  }, 40_000);

  test("service page: instances and checks, following a check back to passing", async () => {
    await page.goto(`${node.url}/ui#/services/web`);
    const row = page.locator('tr[data-check-id="web-ttl"]');
    await row.waitFor();
    expect(await row.getAttribute("data-status")).toBe("critical");
    expect(await row.textContent()).toContain("down for the test");
    await page.getByRole("cell", { name: "web-1" }).waitFor();
    await shot(page, "service");
    expect((await put("/v1/agent/check/pass/web-ttl")).status).toBe(200);
    await page.locator('tr[data-check-id="web-ttl"][data-status="passing"]').waitFor({ timeout: 2_000 });
  }, 30_000);

  test("plugins page: a switch (keyboard and mouse) changes the plugin through the API", async () => {
    await page.goto(`${node.url}/ui#/plugins`);
    const dns = page.getByRole("switch", { name: "Enable dns" });
    await dns.waitFor();
    expect(await dns.getAttribute("aria-checked")).toBe("true");
    await dns.focus();
    await page.keyboard.press("Space");
    const state = async () => ((await getJson(node.url + "/v1/plugins/dns")).body as { state: string }).state;
    await eventually(async () => (await state()) === "disabled", 10_000);
    await page.locator('[role=switch][aria-label="Enable dns"][aria-checked="false"]').waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Enable dns");
    await page.keyboard.press("Enter");
    await eventually(async () => (await state()) === "enabled", 10_000);
    await dns.click();
    await eventually(async () => (await state()) === "disabled", 10_000);
    await dns.click();
    await eventually(async () => (await state()) === "enabled", 10_000);
    await page.locator('[role=switch][aria-label="Enable dns"][aria-checked="true"]').waitFor();
  }, 40_000);

  test("KV editor: create, save with cas, see a concurrent change, delete after confirming", async () => {
    await page.goto(`${node.url}/ui#/kv/`);
    await page.getByLabel("Key name").fill("ui-test/greeting");
    await page.getByLabel("Value", { exact: true }).fill("hello");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.waitForURL(/#\/kv\/ui-test\/greeting$/);
    const raw = async () => {
      const r = await fetch(`${node.url}/v1/kv/ui-test/greeting?raw`);
      return r.status === 200 ? r.text() : null;
    };
    expect(await raw()).toBe("hello");

    const value = page.getByLabel("Value", { exact: true });
    await expect(value.inputValue()).resolves.toBe("hello");
    await value.fill("hello, world");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(/Saved at index \d+/).waitFor();
    expect(await raw()).toBe("hello, world");

    // Someone else writes while we edit: our text stays, and we are told.
    await value.fill("mine");
    expect((await put("/v1/kv/ui-test/greeting", "theirs")).status).toBe(200);
    await page.getByText("This key was changed on the server").waitFor({ timeout: 5_000 });
    expect(await value.inputValue()).toBe("mine");
    await page.getByRole("button", { name: "Load the server's value" }).click();
    expect(await value.inputValue()).toBe("theirs");

    // Delete: Escape dismisses the confirmation and nothing happens; confirming deletes.
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("dialog", { name: "Delete this key?" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    expect(await raw()).toBe("theirs");
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/#\/kv\/ui-test\/$/);
    expect(await raw()).toBeNull();
  }, 40_000);

  test("job page: allocations and a live log tail", async () => {
    const job = { id: "ui-ticker", type: "service", groups: [{ name: "main", count: 1, tasks: [{ name: "tick", command: "/bin/sh", args: ["-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.3; done"], resources: { cpu: 50, memory: 32 } }] }] };
    const reg = await fetch(node.url + "/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job) });
    expect(reg.status).toBe(200);
    try {
      await page.goto(`${node.url}/ui#/`);
      await page.getByRole("link", { name: "ui-ticker" }).click();
      await page.getByRole("heading", { level: 1, name: "ui-ticker" }).waitFor();
      await page.getByRole("button", { name: /^Logs and tasks of allocation/ }).first().click({ timeout: 20_000 });
      const log = page.getByRole("log", { name: "Task output" });
      await page.waitForFunction(() => /tick \d+\n.*tick \d+/s.test(document.querySelector(".log")?.textContent ?? ""), undefined, { timeout: 20_000 });
      const before = (await log.textContent())!.length;
      await page.waitForFunction((n: number) => (document.querySelector(".log")?.textContent ?? "").length > n, before, { timeout: 5_000 });
      await shot(page, "job");
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await horizontalOverflow(page)).toBe(0);
      await page.setViewportSize({ width: 1280, height: 900 });
    } finally {
      await fetch(node.url + "/v1/job/ui-ticker?purge", { method: "DELETE" });
    }
  }, 60_000);

  test("phone width (390 px): no page scrolls sideways; every control has a label", async () => {
    const phone = await openPage(browser, { width: 390, height: 844 });
    try {
      for (const route of ["#/", `#/nodes/${nodeId}`, "#/services/web", "#/plugins", "#/kv/", "#/kv/app/config"]) {
        await phone.page.goto(`${node.url}/ui${route}`);
        await phone.page.locator("main h1").waitFor();
        await phone.page.waitForTimeout(400);
        expect({ route, overflow: await horizontalOverflow(phone.page) }).toEqual({ route, overflow: 0 });
        // Every control has a label (a <label>, aria-label(ledby), or its own text).
        const unlabeled = await phone.page.evaluate(() =>
          [...document.querySelectorAll("input, select, textarea, button, [role=switch]")]
            .filter((el: any) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.textContent.trim()))
            .map((el: any) => el.outerHTML.slice(0, 80)),
        );
        expect({ route, unlabeled }).toEqual({ route, unlabeled: [] });
      }
      await phone.page.goto(`${node.url}/ui#/`);
      await phone.page.getByRole("link", { name: "web", exact: true }).waitFor();
      await phone.page.waitForTimeout(500);
      expect(await horizontalOverflow(phone.page)).toBe(0);
      await shot(phone.page, "phone");
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.page.context().close();
    }
  }, 60_000);
});
