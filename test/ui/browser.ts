// Headless Chromium for the dashboard tests, through playwright-core (a dev
// dependency; no browser download: Debian's /usr/bin/chromium). Each launch
// gets a new, empty profile (playwright's own temporary user-data-dir).
// Without the browser the tests are skipped, saying why.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT } from "../helpers/proc.ts";

// Code passed to page.evaluate runs in the browser; these stand for its globals here (the test project has no DOM types).
declare const document: any, window: any, sessionStorage: any, getComputedStyle: any, location: any;

export const CHROMIUM = process.env.CORRAL_CHROMIUM ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`test/ui: skipped — no Chromium at ${CHROMIUM} (apt-get install chromium, or set CORRAL_CHROMIUM)`);

export const ARTIFACTS = join(ROOT, "test-artifacts", "ui");

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A page that records every request URL and every script error, for the same-origin and no-error checks. */
export async function openPage(browser: Browser, opts: { width?: number; height?: number; dark?: boolean } = {}): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, colorScheme: opts.dark ? "dark" : "light" });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    // A refused request is logged by the browser itself; those are expected in the ACL tests.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return { page, requests, errors };
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Widest content of the page against its viewport: > 0 means the body scrolls sideways. */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth);
}

/** Signs the page in with `token` through the dashboard's dialog (ACLs on). */
export async function signIn(page: Page, token: string) {
  const dialog = page.getByRole("dialog", { name: "Sign in with an ACL token" });
  // The page opens the dialog by itself once it learns ACLs are on and it has no token; it may do so
  // between the check and the click, so the header's button is named by where it is (#app), not by text alone.
  // (If the dialog wins the race, it covers the button and the click gives up: the dialog is what we want.)
  if (!(await dialog.isVisible())) await page.locator("#app").getByRole("button", { name: "Sign in", exact: true }).click({ timeout: 5000 }).catch(() => {});
  await dialog.waitFor();
  await dialog.getByLabel("ACL token").fill(token);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await dialog.waitFor({ state: "detached" });
}
