// One node: facts, CPU and memory charts from the leader's metrics history
// (polled once per bucket), its allocations (blocking query), its health
// checks (blocking query), its attributes. Re-read on its `node` events.
import { api, enc } from "../api.ts";
import { timeChart, type Point } from "../chart.ts";
import { badge, dl, fill, h, section, table, uid } from "../dom.ts";
import { ago, bytes, percent, shortId } from "../format.ts";
import { jobHref, type AllocView } from "../jobs.ts";
import { pollMetrics, type NodeInfo, type NodeMetrics } from "../nodes.ts";
import { errorView, loading, type PageCtx } from "../page.ts";
import type { HealthCheck } from "../services.ts";

const RANGES: [string, string][] = [["5m", "5 minutes"], ["15m", "15 minutes"], ["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"]];

export function nodePage(ctx: PageCtx, id: string): void {
  const badges = h("span", { class: "chips" });
  ctx.title(id, badges);
  ctx.crumbs(["Overview", "#/"], ["Nodes"], [id]);
  const h1 = ctx.main.querySelector("h1")!;
  const facts = h("div", null, loading("the node"));
  const rangeId = uid("range");
  const range = h("select", { id: rangeId, class: "input input-inline" }, RANGES.map(([v, label]) => h("option", { value: v, selected: v === "15m" }, label)));
  const now = h("p", { class: "lead", "aria-live": "off" });
  const cpu = timeChart("CPU busy", () => cpuSummary, ctx.signal);
  const mem = timeChart("Memory in use", () => memSummary, ctx.signal);
  let cpuSummary = "";
  let memSummary = "";
  const allocs = h("div", null, loading("allocations"));
  const checks = h("div", null, loading("checks"));
  const attrs = h("div");
  const attrsSummary = h("summary", null, "Attributes and metadata");
  ctx.main.append(
    section("Facts", facts),
    section("CPU and memory", h("div", { class: "toolbar" }, h("label", { for: rangeId }, "Time range"), range), now, h("div", { class: "charts" }, cpu.el, mem.el), h("p", { class: "hint" }, "From the leader's metrics history: averages per bucket (the dashed line is the bucket's peak), refreshed once per bucket.")),
    section("Allocations", allocs),
    section("Health checks", checks),
    h("details", { class: "card" }, attrsSummary, attrs),
  );

  let checksStarted = false;
  const startChecks = (name: string) => {
    checksStarted = true;
    ctx.watch<HealthCheck[]>(
      `/v1/health/node/${enc(name)}`,
      (list) => {
        fill(
          checks,
          table(
            "Health checks of this node",
            ["Check", "Status", "Service", "Output"],
            list.map((c) => [c.Name || c.CheckID, badge(c.Status), c.ServiceName || h("span", { class: "muted" }, "node"), h("span", { class: "output" }, c.Output || "")]),
            { captionHidden: true, empty: "No checks." },
          ),
        );
      },
      { onError: (err) => fill(checks, (err as { status?: number }).status === 404 ? h("p", { class: "muted" }, "The discovery plugin is off: no health checks to show.") : errorView(err, "checks", "node and service read")) },
    );
  };

  let node: NodeInfo | undefined;
  const load = async () => {
    try {
      node = (await api<NodeInfo>(`/v1/node/${enc(id)}`, { signal: ctx.signal })).data;
      h1.textContent = node.name;
      const crumb = ctx.main.querySelector(".crumbs [aria-current]");
      if (crumb) crumb.textContent = node.name;
      document.title = `${node.name} · corral`;
      fill(badges, badge(node.status), badge(node.health), h("span", { class: "muted" }, node.role));
      renderFacts(facts, node);
      renderAttrs(attrs, node);
      attrsSummary.textContent = `Attributes and metadata (${Object.keys(node.attributes).length + Object.keys(node.meta).length})`;
      if (!checksStarted) startChecks(node.name);
    } catch (err) {
      if (!ctx.signal.aborted) fill(facts, errorView(err, "this node", "node read"));
    }
  };
  void load();
  const again = ctx.debounce(load, 250);
  ctx.on("node", (e) => (e.payload.id === id || e.payload.name === id || e.payload.id === node?.id) && again());
  ctx.on("reset", again);

  // Charts: the poller restarts when the range changes.
  let poll = new AbortController();
  ctx.signal.addEventListener("abort", () => poll.abort(), { once: true });
  const startPoll = () => {
    poll.abort();
    poll = new AbortController();
    pollMetrics(id, () => range.value, (m) => drawCharts(m), (err) => fill(now, errorView(err, "metrics", "node read")), poll.signal);
  };
  range.addEventListener("change", startPoll);

  const drawCharts = (m: NodeMetrics) => {
    const total = node?.resources.memoryBytes || Math.max(1, ...m.points.map((p) => p.memoryUsedBytesMax + p.memoryAvailableBytesMin));
    const pts = (f: (p: NodeMetrics["points"][number]) => number): Point[] => m.points.map((p) => [p.time, f(p)]);
    const to = Date.now();
    // A history younger than the range (a node that just joined, a new leader) starts the axis where it starts.
    // At least two minutes of axis, so a single bucket is not stretched over the whole width.
    const from = Math.max(m.since, Math.min((m.points[0]?.time ?? m.since) - m.resolutionMs, to - 120_000));
    const gapMs = m.resolutionMs * 2.5;
    const l = m.latest;
    fill(now, l ? `Now: CPU ${percent(l.cpuPercent, 1)} · memory ${bytes(l.memoryUsedBytes)} used, ${bytes(l.memoryAvailableBytes)} available · load ${l.load1.toFixed(2)}` : "No live sample: the node sends none (down, or the probe plugin is off).");
    const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const cpuAvg = m.points.map((p) => p.cpuPercentAvg);
    cpuSummary = m.points.length ? `average ${percent(avg(cpuAvg), 1)}, peak ${percent(Math.max(...m.points.map((p) => p.cpuPercentMax)), 1)} over ${m.points.length} buckets` : "no samples in this range";
    memSummary = m.points.length ? `average ${bytes(avg(m.points.map((p) => p.memoryUsedBytesAvg)))} of ${bytes(total)}` : "no samples in this range";
    cpu.update({
      from, to, yMax: 100, yFormat: (v) => `${Math.round(v)}%`, gapMs,
      series: [
        { label: "average", cls: "chart-a", points: pts((p) => p.cpuPercentAvg), area: true },
        { label: "peak", cls: "chart-a", points: pts((p) => p.cpuPercentMax), dashed: true },
      ],
    });
    mem.update({
      from, to, yMax: total, yFormat: (v) => bytes(v), gapMs,
      series: [
        { label: "average used", cls: "chart-b", points: pts((p) => p.memoryUsedBytesAvg), area: true },
        { label: "peak used", cls: "chart-b", points: pts((p) => p.memoryUsedBytesMax), dashed: true },
      ],
    });
  };
  startPoll();

  ctx.watch<AllocView[]>(
    `/v1/node/${enc(id)}/allocations`,
    (list) => {
      fill(
        allocs,
        table(
          "Allocations on this node",
          ["Allocation", "Job", "Group", "Status", "Desired", "Modified"],
          list.map((a) => [
            h("a", { href: `${jobHref({ namespace: a.namespace, id: a.jobId })}?alloc=${enc(a.id)}` }, h("code", null, shortId(a.id))),
            a.jobId, a.groupName, badge(a.clientStatus), a.desiredStatus, ago(a.modifiedAt),
          ]),
          { captionHidden: true, empty: "Nothing is placed on this node." },
        ),
      );
    },
    { onError: (err) => fill(allocs, errorView(err, "allocations", "node read")) },
  );

}

function renderFacts(el: HTMLElement, n: NodeInfo): void {
  const r = n.resources;
  fill(
    el,
    dl([
      ["ID", h("code", null, n.id)],
      ["Address", h("code", null, n.address)],
      ["Role", n.role],
      ["Datacenter", n.datacenter],
      ["Status", [badge(n.status), ` since ${new Date(n.statusChangedAt).toLocaleString()}`]],
      ["Health", [badge(n.health), n.healthReason ? ` ${n.healthReason}` : ""]],
      ["Last heartbeat", ago(n.lastHeartbeatAt)],
      ["CPU", `${r.cores} cores, ${r.cpuMhz} MHz in all (${n.reserved.cpuMhz} MHz reserved)`],
      ["Memory", `${bytes(r.memoryBytes)} (${bytes(n.reserved.memoryBytes)} reserved)`],
      ["Disk", bytes(r.diskBytes)],
      // Node meta ([node] meta and `corral node meta apply`): what ${meta.<key>} constraints and tasks read.
      ["Meta", Object.keys(n.meta).length ? Object.keys(n.meta).sort().map((k) => `${k}=${n.meta[k]}`).join(", ") : "none"],
    ]),
  );
}

function renderAttrs(el: HTMLElement, n: NodeInfo): void {
  const rows = [...Object.entries(n.attributes).map(([k, v]) => [k, v, "attribute"]), ...Object.entries(n.meta).map(([k, v]) => [k, v, "meta"])];
  fill(el, table("Attributes and metadata", ["Key", "Value", "Kind"], rows.sort((a, b) => a[0]!.localeCompare(b[0]!)), { captionHidden: true, empty: "None." }));
}
