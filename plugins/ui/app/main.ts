// The dashboard's entry: the page frame (header, navigation, main), the
// theme, the session (ACLs, token) and the hash router. Pages live in
// pages/; each gets a PageCtx whose signal ends everything it started when
// the user navigates away. Back and forward are the browser's own: routes
// are the part of the URL after "#".
import { sleep } from "./api.ts";
import { fill, h } from "./dom.ts";
import { Live, type LiveStatus } from "./live.ts";
import { loginDialog } from "./login.ts";
import { PageCtx, errorView } from "./page.ts";
import { jobPage } from "./pages/job.ts";
import { kvPage } from "./pages/kv.ts";
import { allocationsPage, jobsPage, nodesPage } from "./pages/lists.ts";
import { nodePage } from "./pages/node.ts";
import { overviewPage } from "./pages/overview.ts";
import { pluginsPage } from "./pages/plugins.ts";
import { servicePage } from "./pages/service.ts";
import { sessionsPage } from "./pages/sessions.ts";
import { loadSession, onSessionChange, session, signOut } from "./session.ts";
import { initTheme, themeToggle } from "./theme.ts";

type Route = [RegExp, (ctx: PageCtx, m: string[], q: URLSearchParams) => void, string];

const ROUTES: Route[] = [
  [/^\/?$/, (c) => overviewPage(c), "overview"],
  [/^\/jobs\/?$/, (c) => jobsPage(c), "jobs"],
  [/^\/nodes\/?$/, (c) => nodesPage(c), "nodes"],
  [/^\/allocations\/?$/, (c) => allocationsPage(c), "allocations"],
  [/^\/nodes\/(.+)$/, (c, m) => nodePage(c, m[0]!), "overview"],
  [/^\/services\/(.+)$/, (c, m) => servicePage(c, m[0]!), "overview"],
  [/^\/jobs\/([^/]+)\/(.+)$/, (c, m, q) => jobPage(c, m[0]!, m[1]!, q), "overview"],
  [/^\/plugins\/?$/, (c) => pluginsPage(c), "plugins"],
  [/^\/kv(?:\/(.*))?$/, (c, m) => kvPage(c, m[0] ?? ""), "kv"],
  [/^\/sessions(?:\/(.*))?$/, (c, m) => sessionsPage(c, m[0] ?? ""), "sessions"],
];

const live = new Live();
const main = h("main", { id: "main", tabindex: "-1" });
const nav = h(
  "nav",
  { "aria-label": "Main", class: "nav" },
  h("ul", null, [["#/", "Overview", "overview"], ["#/jobs", "Jobs", "jobs"], ["#/nodes", "Nodes", "nodes"], ["#/allocations", "Allocations", "allocations"], ["#/plugins", "Plugins", "plugins"], ["#/kv/", "Key/Value", "kv"], ["#/sessions", "Sessions", "sessions"]].map(([href, text, key]) => h("li", null, h("a", { href, "data-nav": key }, text)))),
);
const liveBadge = h("span", { class: "live", role: "status", "aria-live": "polite" });
const account = h("div", { class: "account" });
const banner = h("div", { class: "banners" });
let page: PageCtx | undefined;
let firstRoute = true;

function shell(root: HTMLElement): void {
  const skip = h("a", { href: "#main", class: "skip-link", onClick: (ev: Event) => (ev.preventDefault(), main.focus()) }, "Skip to content");
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { href: "#/", class: "brand", "aria-label": "corral overview" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "corral"),
    nav,
    h("div", { class: "tools" }, liveBadge, themeToggle(), account),
  );
  fill(root, skip, header, banner, main);
}

function route(): void {
  page?.leave();
  const raw = location.hash.replace(/^#/, "");
  if (raw === "main") return; // the skip link, should it ever navigate
  const [pathPart = "", queryPart = ""] = raw.split("?");
  const path = pathPart || "/";
  const q = new URLSearchParams(queryPart);
  main.replaceChildren();
  page = new PageCtx(main, live);
  let section = "";
  const found = ROUTES.find(([re]) => re.test(path));
  try {
    if (found) {
      const m = path.match(found[0])!.slice(1).map((p) => (p === undefined ? p : safeDecode(p)));
      section = found[2];
      found[1](page, m as string[], q);
    } else {
      page.title("Not found");
      main.append(h("p", null, "No page here. ", h("a", { href: "#/" }, "Go to the overview.")));
    }
  } catch (err) {
    main.append(errorView(err, "this page"));
  }
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  // After a navigation, move focus to the new page's heading so keyboard and
  // screen-reader users land on it (not on the first load: nothing moved).
  if (!firstRoute) {
    window.scrollTo(0, 0);
    main.querySelector<HTMLElement>("h1")?.focus();
  }
  firstRoute = false;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function renderAccount(): void {
  const s = session();
  fill(banner);
  if (s.rejected) banner.append(h("div", { class: "alert alert-error", role: "alert" }, h("p", null, s.rejected)));
  if (!s.aclEnabled) return fill(account);
  const signedIn = s.token && !s.token.anonymous;
  fill(
    account,
    signedIn
      ? [
          h("span", { class: "who", title: `AccessorID ${s.token!.accessorId}` }, `Token: ${s.token!.description || s.token!.accessorId.slice(0, 8)}`),
          h("button", { type: "button", class: "btn btn-small", onClick: () => void signOut() }, "Sign out"),
        ]
      : h("button", { type: "button", class: "btn btn-small btn-primary", onClick: () => loginDialog() }, "Sign in"),
  );
  if (!signedIn) {
    banner.append(
      h(
        "div",
        { class: "alert alert-info", role: "note" },
        h("p", null, "ACLs are on and you are not signed in: you see what the anonymous token may read, and actions it may not take are switched off."),
        h("button", { type: "button", class: "btn btn-small", onClick: () => loginDialog() }, "Sign in with a token"),
      ),
    );
  }
}

function renderLive(s: LiveStatus, detail: string): void {
  const text = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", denied: "Not live", paused: "Paused" }[s];
  liveBadge.className = `live live-${s}`;
  liveBadge.title = detail || (s === "live" ? "Updates arrive from the event stream and blocking queries" : "");
  fill(liveBadge, h("span", { class: "live-dot", "aria-hidden": "true" }), text, detail ? h("span", { class: "visually-hidden" }, `: ${detail}`) : null);
}

async function boot(): Promise<void> {
  initTheme();
  const root = document.getElementById("app")!;
  shell(root);
  live.onStatus(renderLive);
  renderLive("connecting", "");
  // The node may be restarting: say so and keep trying, without reloading the page.
  for (;;) {
    try {
      await loadSession();
      break;
    } catch (err) {
      fill(main, errorView(err, "the session"), h("p", { class: "hint" }, "Trying again every 5 seconds…"));
      await sleep(5_000);
    }
  }
  main.replaceChildren();
  renderAccount();
  onSessionChange(() => {
    renderAccount();
    live.restart();
    route();
  });
  live.start(session().index);
  window.addEventListener("hashchange", route);
  route();
  const s = session();
  if (s.aclEnabled && (!s.token || s.token.anonymous)) loginDialog(s.rejected);
}

void boot();
