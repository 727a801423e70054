// The dashboard with ACLs on: it asks for a token, keeps it in the tab
// (sessionStorage), sends it as X-Consul-Token (and as ?token= on the event
// stream, which cannot set headers), and switches off — with the reason —
// what the token may not do, exactly as the server would decide.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { getJson, killAll } from "../helpers/proc.ts";
import { startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { HAVE_CHROMIUM, launch, openPage, shot, signIn } from "./browser.ts";

// Code passed to page.evaluate runs in the browser; these stand for its globals here (the test project has no DOM types).
declare const document: any, window: any, sessionStorage: any, getComputedStyle: any, location: any;

const READ_ONLY = `
node_prefix "" { policy = "read" }
service_prefix "" { policy = "read" }
key_prefix "" { policy = "read" }
plugin_prefix "" { policy = "read" }
event_prefix "" { policy = "read" }
job_prefix "" { policy = "read" }
operator = "read"
`;

let n: AclNode;
let browser: Browser;
let readOnly = "";

describe.skipIf(!HAVE_CHROMIUM)("dashboard with ACLs on", () => {
  beforeAll(async () => {
    [n, browser] = await Promise.all([startAclNode(), launch()]);
    readOnly = (await tokenWith(n, "ui-read-only", READ_ONLY)).secret;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await killAll();
  });

  test("asks for a token; a read-only token sees everything but may not switch plugins", async () => {
    const { page, requests, errors } = await openPage(browser);
    const headers: Record<string, string>[] = [];
    page.on("request", (r) => r.url().includes("/v1/nodes") && headers.push(r.headers()));
    await page.goto(n.url + "/ui");
    const dialog = page.getByRole("dialog", { name: "Sign in with an ACL token" });
    await dialog.waitFor();
    // Escape closes it; the banner says why little is shown and offers it again.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.getByText("ACLs are on and you are not signed in").waitFor();
    await page.locator(".live-denied").waitFor({ timeout: 10_000 });

    // A wrong token is refused and not kept.
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await dialog.getByLabel("ACL token").fill("00000000-1111-2222-3333-444444444444");
    await dialog.getByRole("button", { name: "Sign in" }).click();
    await dialog.getByRole("alert").filter({ hasText: "not known" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("corral.token"))).toBeNull();
    await dialog.getByLabel("ACL token").fill(readOnly);
    await dialog.getByRole("button", { name: "Sign in" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByText("Token: ui-read-only").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("corral.token"))).toBe(readOnly);

    // Reads work with the token: the node shows, the stream is live with ?token=.
    await page.locator("main table a").first().waitFor({ timeout: 10_000 });
    expect(headers.some((h) => h["x-consul-token"] === readOnly)).toBe(true);
    await page.locator(".live-live").waitFor({ timeout: 10_000 });
    expect(requests.some((u) => u.includes("/v1/events?") && u.includes(`token=${readOnly}`))).toBe(true);
    const put = await fetch(n.url + "/v1/kv/acl-ui/probe", { method: "PUT", body: "x", headers: { "X-Consul-Token": n.management } });
    expect(put.status).toBe(200);
    await page.locator(".feed-item", { hasText: "acl-ui/probe" }).waitFor({ timeout: 5_000 });

    // Plugins: switches are inert, with the reason next to them.
    await page.getByRole("link", { name: "Plugins" }).click();
    const dns = page.getByRole("switch", { name: "Enable dns" });
    await dns.waitFor();
    expect(await dns.getAttribute("aria-disabled")).toBe("true");
    const why = await dns.getAttribute("aria-describedby");
    expect(await page.locator(`#${why}`).textContent()).toContain("needs plugin write");
    // Still focusable (a keyboard user reaches it and hears the reason), but a click or Space does nothing.
    await dns.click({ force: true });
    await dns.focus();
    await page.keyboard.press("Space");
    await page.waitForTimeout(300);
    const state = (await getJson(n.url + "/v1/plugins/dns", { headers: { "X-Consul-Token": n.management } })).body.state;
    expect(state).toBe("enabled");
    await shot(page, "acl-read-only-plugins");

    // KV: the editor's buttons are off for a key the token may not write.
    await page.goto(n.url + "/ui#/kv/acl-ui/probe");
    await page.getByText('needs key write on "acl-ui/probe"').waitFor();
    expect(await page.getByRole("button", { name: "Save" }).getAttribute("aria-disabled")).toBe("true");
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);

  test("a management token may switch plugins; signing out forgets the token", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(n.url + "/ui#/plugins");
    await signIn(page, n.management);
    const dns = page.getByRole("switch", { name: "Enable dns" });
    await page.locator('[role=switch][aria-label="Enable dns"]:not([aria-disabled])').waitFor();
    const state = async () => (await getJson(n.url + "/v1/plugins/dns", { headers: { "X-Consul-Token": n.management } })).body.state;
    await dns.click();
    await page.locator('[role=switch][aria-label="Enable dns"][aria-checked="false"]').waitFor();
    expect(await state()).toBe("disabled");
    await dns.click();
    await page.locator('[role=switch][aria-label="Enable dns"][aria-checked="true"]').waitFor();
    expect(await state()).toBe("enabled");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("corral.token"))).toBeNull();
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);
});
