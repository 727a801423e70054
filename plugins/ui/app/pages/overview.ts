// The overview: who leads, the nodes with live CPU and memory, services by
// health, jobs by allocation state, and the event feed. How each part
// stays current:
//   raft, nodes   re-read on `leader` / `node` events from the stream
//   sparklines    metrics history polled once per bucket (nodes.ts)
//   services      blocking query on /v1/health/state/any?filter=ServiceID != "" (moves on any check,
//                 service or node change; answers only service checks)
//   counts        /v1/summary, re-read on job, node and allocation events
//   nodes, jobs   one page each (paged-list.ts): the server pages and filters;
//                 jobs by blocking query on the page's URL, nodes on events
//   feed          the stream itself
import { api, enc } from "../api.ts";
import { sparkline } from "../chart.ts";
import { badge, fill, h, section, table } from "../dom.ts";
import { ago, bytes, clock, percent } from "../format.ts";
import type { Counted, Summary } from "../summary.ts";
import { jobsList } from "../lists.ts";
import { pagedList } from "../paged-list.ts";
import { describe, type ClusterEvent } from "../live.ts";
import { pollMetrics, type NodeInfo, type NodeMetrics } from "../nodes.ts";
import { errorView, filteredNote, loading, type PageCtx } from "../page.ts";
import { serviceSummaries, type ServiceSummary } from "../services.ts";

/** Rows per list on the overview; the lists' own pages show more. */
const OVERVIEW_PAGE = 10;

interface RaftInfo {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  members: { address: string; leader: boolean; voter: boolean; matchIndex?: number; state?: string }[];
}

export function overviewPage(ctx: PageCtx): void {
  ctx.title("Overview");
  const raftBody = h("div", null, loading("Raft status"));
  const nodesBody = h("div", null, loading("nodes"));
  const servicesBody = h("div", null, loading("services"));
  const jobsBody = h("div", null, loading("jobs"));
  const summaryBody = h("div", null, loading("counts"));
  const feed = h("ol", { class: "feed", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Cluster events, newest first" });
  ctx.main.append(
    h(
      "div",
      { class: "overview" },
      h(
        "div",
        { class: "overview-main" },
        section("Cluster", summaryBody),
        section("Leader-role nodes", raftBody),
        section("Nodes", nodesBody),
        section("Services", servicesBody),
        section("Jobs", jobsBody),
      ),
      h("aside", { class: "overview-side", "aria-label": "Live events" }, section("Events", h("p", { class: "hint" }, "Live from /v1/events, newest first."), feed)),
    ),
  );

  summaryPart(ctx, summaryBody);
  raftPart(ctx, raftBody);
  nodesPart(ctx, nodesBody);
  servicesPart(ctx, servicesBody);
  jobsPart(ctx, jobsBody);
  feedPart(ctx, feed);
}

function raftPart(ctx: PageCtx, body: HTMLElement): void {
  const load = async () => {
    try {
      const r = (await api<RaftInfo>("/v1/operator/raft", { signal: ctx.signal })).data;
      fill(
        body,
        h("p", { class: "lead" }, r.leader ? ["Leader: ", h("strong", { "data-testid": "raft-leader" }, r.leader), ` · term ${r.term} · committed ${r.commitIndex} · applied ${r.appliedIndex}`] : "No leader right now: an election is under way, or a quorum is missing."),
        table(
          "Raft members",
          ["Member", "Role", "Voter", "Replicated to"],
          r.members.map((m) => [m.address, m.leader ? badge("leader") : badge("follower"), m.voter ? "yes" : "no", m.matchIndex ?? (m.leader ? r.commitIndex : "–")]),
          { captionHidden: true, phoneHides: [2] },
        ),
      );
    } catch (err) {
      if (ctx.signal.aborted) return;
      const agent = (err as { status?: number }).status === 404;
      fill(body, agent ? h("p", { class: "muted" }, "This node is an agent: it takes no part in Raft. Open a leader-role node's dashboard to see the peers.") : errorView(err, "the Raft status", "operator read"));
    }
  };
  void load();
  const again = ctx.debounce(load, 300);
  ctx.on("leader", again);
  ctx.on("reset", again);
}

function nodesPart(ctx: PageCtx, body: HTMLElement): void {
  let nodes: NodeInfo[] = [];
  const metrics = new Map<string, NodeMetrics>();
  const pollers = new Map<string, AbortController>();
  ctx.signal.addEventListener("abort", () => pollers.forEach((c) => c.abort()), { once: true });

  // A metrics answer redraws only that node's sparkline and heartbeat cells, so a
  // keyboard user's focus on a link in the table is never pulled away.
  const renderMetrics = (id: string) => {
    const n = nodes.find((x) => x.id === id);
    const tr = body.querySelector(`tr[data-key="${CSS.escape(id)}"]`);
    if (!n || !tr) return;
    const cells = nodeRow(n, metrics.get(id));
    for (const i of [2, 3, 4]) fill(tr.children[i]!, cells[i]);
  };

  // Sparklines for the ready nodes of the page shown (at most a page): each polls its metrics once per bucket.
  const syncPollers = () => {
    const wanted = new Set(nodes.filter((n) => n.status === "ready").slice(0, 50).map((n) => n.id));
    for (const [id, c] of pollers) if (!wanted.has(id)) (c.abort(), pollers.delete(id), metrics.delete(id));
    for (const id of wanted) {
      if (pollers.has(id)) continue;
      const c = new AbortController();
      pollers.set(id, c);
      ctx.signal.addEventListener("abort", () => c.abort(), { once: true });
      pollMetrics(id, () => "5m", (m) => (metrics.set(id, m), renderMetrics(id)), () => metrics.delete(id), c.signal);
    }
  };

  const list = pagedList<NodeInfo>(ctx, {
    id: "nodes", path: "/v1/nodes", perPage: OVERVIEW_PAGE, noun: "nodes", plainMeans: "node name prefix", needs: "node read",
    headers: ["Node", "Status", "CPU (5 min)", "Memory (5 min)", "Heartbeat"], phoneHides: [4],
    row: (n) => nodeRow(n, metrics.get(n.id)), key: (n) => n.id,
    empty: "No nodes have joined yet.", topics: ["node"],
    onPage: (page) => ((nodes = page), syncPollers()),
  });
  fill(body, list.el, h("p", { class: "hint" }, h("a", { href: "#/nodes" }, "All nodes, page by page")));
}

function nodeRow(n: NodeInfo, m: NodeMetrics | undefined) {
  // The buckets, then the latest heartbeat sample: "now" is the line's last point.
  const fresh = m?.latest && m.latest.time > (m.points[m.points.length - 1]?.time ?? 0) ? m.latest : null;
  const cpu = [...(m?.points.map((p) => p.cpuPercentAvg) ?? []), ...(fresh ? [fresh.cpuPercent] : [])];
  const mem = [...(m?.points.map((p) => p.memoryUsedBytesAvg) ?? []), ...(fresh ? [fresh.memoryUsedBytes] : [])];
  const total = n.resources.memoryBytes || Math.max(1, ...mem);
  // The node list is re-read on node events only; the metrics poll brings the newer heartbeat time.
  const seen = Math.max(n.lastHeartbeatAt ?? 0, m?.latest?.time ?? 0) || null;
  const latestCpu = m?.latest?.cpuPercent ?? cpu[cpu.length - 1];
  const latestMem = m?.latest?.memoryUsedBytes ?? mem[mem.length - 1];
  return [
    [h("a", { href: `#/nodes/${enc(n.id)}` }, n.name), h("div", { class: "muted small" }, `${n.role} · `, h("code", null, n.address))],
    h("span", { class: "chips" }, badge(n.status), n.health === "warning" ? h("span", { title: n.healthReason }, badge("warning", "warning")) : null),
    n.status === "ready" ? h("span", { class: "spark-cell" }, sparkline(cpu, 100, `CPU of ${n.name}, last 5 minutes: now ${percent(latestCpu)}`, "spark-cpu"), h("span", null, percent(latestCpu))) : h("span", { class: "muted" }, "–"),
    n.status === "ready"
      ? h("span", { class: "spark-cell" }, sparkline(mem, total, `Memory of ${n.name}, last 5 minutes: now ${bytes(latestMem)} of ${bytes(total)}`, "spark-mem"), h("span", null, `${bytes(latestMem)} / ${bytes(total)}`))
      : h("span", { class: "muted" }, "–"),
    h("time", { datetime: seen ? new Date(seen).toISOString() : null, title: seen ? new Date(seen).toLocaleString() : null }, ago(seen)),
  ];
}

function servicesPart(ctx: PageCtx, body: HTMLElement): void {
  const render = (list: ServiceSummary[], more: number, note: HTMLElement | null) => {
    fill(
      body,
      table(
        "Services",
        ["Service", "Instances", "Passing", "Warning", "Critical", "Tags"],
        list.map((s) => [
          h("a", { href: `#/services/${enc(s.name)}` }, s.name),
          s.instances,
          count(s.passing, "passing"),
          count(s.warning, "warning"),
          count(s.critical, "critical"),
          s.tags.length ? h("span", { class: "chips" }, s.tags.map((t) => h("span", { class: "tag" }, t))) : h("span", { class: "muted" }, "–"),
        ]),
        { captionHidden: true, empty: note ? "No services your token may read." : "No services are registered.", phoneHides: [1, 5] },
      ),
      note,
      more > 0 ? h("p", { class: "hint" }, `${more} more services are not summarised here.`) : null,
    );
  };
  let running = false;
  let again = false;
  const load = async () => {
    if (running) return void (again = true);
    running = true;
    try {
      const { list, more, headers } = await serviceSummaries(ctx.signal);
      render(list, more, filteredNote(headers));
    } catch (err) {
      if (!ctx.signal.aborted) fill(body, errorView(err, "services", "service read"));
    } finally {
      running = false;
      if (again && !ctx.signal.aborted) (again = false), void load();
    }
  };
  // Any check, service or node change moves this index; then the summaries are re-read. Only the
  // trigger is wanted, not the checks: the filter leaves out node checks (one per node: 2.5 MB at
  // 10,000 nodes, re-sent on every change), and the index still moves with them.
  ctx.watch(`/v1/health/state/any?filter=${enc('ServiceID != ""')}`, () => void load(), { onError: (err) => fill(body, errorView(err, "services", "service read")) });
}

function count(n: number, status: string) {
  return n > 0 ? h("span", { "data-status": status }, badge(status, String(n))) : h("span", { class: "muted", "data-status": status }, "0");
}

function jobsPart(ctx: PageCtx, body: HTMLElement): void {
  const list = jobsList(ctx, OVERVIEW_PAGE);
  fill(body, list.el, h("p", { class: "hint" }, h("a", { href: "#/jobs" }, "All jobs, page by page")));
}

/**
 * Counts of jobs, nodes and allocations by status, as the server counts them
 * (GET /v1/summary): never a whole list fetched to count it. Re-read when the
 * stream says something of them changed.
 */
function summaryPart(ctx: PageCtx, body: HTMLElement): void {
  const line = (what: string, c: Counted, href?: string) =>
    h(
      "div",
      { class: "summary-item", "data-testid": `summary-${what.toLowerCase()}` },
      h("span", { class: "summary-total" }, href ? h("a", { href }, c.total.toLocaleString("en")) : c.total.toLocaleString("en")),
      " ",
      h("span", { class: "summary-what" }, what),
      " ",
      h("span", { class: "chips" }, Object.entries(c.byStatus).sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => badge(s, `${n.toLocaleString("en")} ${s}`))),
    );
  const load = async () => {
    try {
      const a = await api<Summary>("/v1/summary", { signal: ctx.signal });
      fill(body, h("div", { class: "summary" }, line("Jobs", a.data.jobs, "#/jobs"), line("Nodes", a.data.nodes, "#/nodes"), line("Allocations", a.data.allocations, "#/allocations")), filteredNote(a.headers));
    } catch (err) {
      if (!ctx.signal.aborted) fill(body, errorView(err, "the cluster summary"));
    }
  };
  void load();
  const again = ctx.debounce(() => void load(), 1000);
  for (const t of ["job", "node", "allocation", "reset"]) ctx.on(t, again);
}

function feedPart(ctx: PageCtx, feed: HTMLElement): void {
  const item = (e: ClusterEvent) =>
    h(
      "li",
      { class: e.history ? "feed-item history" : "feed-item" },
      h("time", { datetime: new Date(e.at).toISOString() }, clock(e.at)),
      " ",
      badge(e.topic === "reset" ? "warning" : "info", e.topic),
      " ",
      h("span", { class: "feed-type" }, e.type),
      " ",
      h("span", { class: "feed-what" }, describe(e)),
      e.index ? h("span", { class: "muted" }, ` #${e.index}`) : null,
    );
  // What arrived before this page opened, oldest at the bottom.
  feed.append(...ctx.live.feed.map(item));
  if (ctx.live.feed.length === 0) feed.append(h("li", { class: "muted empty-feed" }, "No events yet."));
  ctx.on("*", (e) => {
    feed.querySelector(".empty-feed")?.remove();
    feed.prepend(item(e));
    while (feed.children.length > 50) feed.lastElementChild?.remove();
  });
}
