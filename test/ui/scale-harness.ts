// The dashboard at scale, shared by test/ui/scale.test.ts (a smaller size)
// and bench/ui-scale.ts (100,000 jobs, 10,000 nodes): a real dev node on a
// data dir seeded with that many jobs and nodes (test/helpers/seed-scale.ts),
// and Chromium timings from navigation to what the user waits for.
import type { Browser, Page } from "playwright-core";
import { startCorral, waitHealthy, type CorralProcess } from "../helpers/proc.ts";
import { seedScale, type Seeded } from "../helpers/seed-scale.ts";
import { openPage } from "./browser.ts";

// Code passed to page.waitForFunction runs in the browser; these stand for its globals here.
declare const document: any, performance: any;

/** The 1 s goal of issue 18 point 7, for each timing. */
export const GOAL_MS = 1000;

export interface ScaleNode {
  node: CorralProcess;
  seeded: Seeded;
  startMs: number;
}

/** A dev node serving `jobs` jobs and `nodes` nodes: started once (Raft bootstraps), stopped, seeded, started again. */
export async function seededNode(size: { jobs: number; nodes: number }): Promise<ScaleNode> {
  // Waits are long: on a loaded 2-core machine even a fresh node can outlast startCorral's 20 s.
  const first = await startCorral({ waitReady: false });
  await waitHealthy(first, 180_000);
  // The dev node elects itself; its first entries (and its term) must be in the log before seeding.
  for (let i = 0; i < 200; i++) {
    const leader = await fetch(first.url + "/v1/status/leader").then((r) => r.json()).catch(() => "");
    if (leader) break;
    await Bun.sleep(100);
  }
  await first.kill("SIGTERM");
  const seeded = await seedScale(first.dataDir, size);
  const t0 = performance.now();
  // Opening a state of 100,000 jobs on a loaded machine can outlast startCorral's 20 s wait.
  const node = await startCorral({ dataDir: first.dataDir, port: first.port, waitReady: false });
  await waitHealthy(node, 180_000);
  return { node, seeded, startMs: Math.round(performance.now() - t0) };
}

/**
 * Navigates to `hash` and answers the page's own clock (ms since navigation
 * started) at the first animation frame where `ready` holds: what a user
 * would see, not when a request ended.
 */
export async function timeTo(page: Page, url: string, ready: string, timeoutMs = 30_000): Promise<number> {
  await page.goto("about:blank");
  await page.goto(url, { waitUntil: "commit" });
  const handle = await page.waitForFunction(
    (sel: string) => (document.querySelector(sel) ? Math.round(performance.now()) : false),
    ready,
    { polling: "raf", timeout: timeoutMs },
  );
  return (await handle.jsonValue()) as number;
}

export interface UiTimings {
  overview_counts_ms: number;
  overview_lists_ms: number;
  jobs_list_ms: number;
  nodes_list_ms: number;
  allocations_list_ms: number;
}

/** The four timings, each from a fresh navigation, best of `runs` (the first run also warms the bundle). */
export async function measure(browser: Browser, url: string, size: { jobs: number; nodes: number }, runs = 2): Promise<{ timings: UiTimings; page: Page; requests: string[]; errors: string[] }> {
  const { page, requests, errors } = await openPage(browser);
  const jobsTotal = size.jobs.toLocaleString("en");
  const best: Partial<UiTimings> = {};
  const keep = (k: keyof UiTimings, v: number) => (best[k] = Math.min(best[k] ?? Infinity, v));
  // Warm the bundle once: the first request after a start bundles the app from source (a checkout; dist/ embeds it).
  await page.goto(url + "/ui");
  await page.waitForSelector('[data-testid="summary-jobs"]', { timeout: 60_000 });
  for (let r = 0; r < runs; r++) {
    keep("overview_counts_ms", await timeTo(page, url + "/ui#/", `[data-testid="summary-jobs"] .summary-total`));
    // Counts with the right total: the selector above only says they are shown.
    const shown = await page.locator('[data-testid="summary-jobs"] .summary-total').textContent();
    if (shown !== jobsTotal) throw new Error(`overview shows ${shown} jobs, expected ${jobsTotal}`);
    keep("overview_lists_ms", await timeTo(page, url + "/ui#/", `[data-list="jobs"] tbody tr`));
    await page.waitForSelector(`[data-list="nodes"] tbody tr`);
    keep("jobs_list_ms", await timeTo(page, url + "/ui#/jobs", `[data-list="jobs"] tbody tr`));
    keep("nodes_list_ms", await timeTo(page, url + "/ui#/nodes", `[data-list="nodes"] tbody tr`));
    // No allocations are seeded: "shown" is the list's answer, rows or its empty line.
    keep("allocations_list_ms", await timeTo(page, url + "/ui#/allocations", `[data-list="allocations"] .paged-body:not([aria-busy]) :is(tbody tr, .empty)`));
  }
  return { timings: best as UiTimings, page, requests, errors };
}
