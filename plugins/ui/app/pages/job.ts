// One job: its definition and state, its allocations (blocking query), and
// for a chosen allocation its task states and a live log tail. The job is
// re-read on its `job` events; the chosen allocation on its `allocation` events.
import { api, enc } from "../api.ts";
import { badge, dl, fill, h, section, table } from "../dom.ts";
import { ago, shortId } from "../format.ts";
import { allocChips, jobHref, type AllocView, type JobView } from "../jobs.ts";
import { logTail } from "../logtail.ts";
import { placementFailureText } from "../../../../core/sdk/browser.ts";
import { deploymentPanel } from "../deployment.ts";
import { errorView, loading, type PageCtx } from "../page.ts";

export function jobPage(ctx: PageCtx, namespace: string, id: string, query: URLSearchParams): void {
  const status = h("span", { class: "chips" });
  ctx.title(id, status);
  ctx.crumbs(["Overview", "#/"], [`Jobs (${namespace})`], [id]);
  const facts = h("div", null, loading("the job"));
  const allocs = h("div", null, loading("allocations"));
  const detail = h("div");
  const ns = `namespace=${enc(namespace)}`;
  ctx.main.append(section("Job", facts), section("Allocations", allocs), detail);

  const load = async () => {
    try {
      const j = (await api<JobView>(`/v1/job/${enc(id)}?${ns}`, { signal: ctx.signal })).data;
      fill(status, badge(j.status), j.stop ? badge("stopped") : null);
      renderJob(facts, j);
    } catch (err) {
      if (!ctx.signal.aborted) fill(facts, errorView(err, "this job", `job read on "${id}"`));
    }
  };
  void load();
  const again = ctx.debounce(load, 250);
  ctx.on("job", (e) => (e.payload.jobId === id || e.payload.deploymentId !== undefined) && again());
  ctx.on("reset", again);

  let selected = query.get("alloc") ?? "";
  let list: AllocView[] = [];
  let detailCtrl: AbortController | undefined;
  ctx.signal.addEventListener("abort", () => detailCtrl?.abort(), { once: true });

  const renderList = () =>
    fill(
      allocs,
      table(
        "Allocations",
        ["Allocation", "Group", "Node", "Version", "Status", "Desired", "Health", "Modified", "Output"],
        list.map((a) => [
          h("code", { title: a.id }, shortId(a.id)),
          `${a.groupName}[${a.taskGroupIndex}]`,
          a.nodeName ? h("a", { href: `#/nodes/${enc(a.nodeId)}` }, a.nodeName) : h("code", null, shortId(a.nodeId)),
          `v${a.jobVersion}`,
          h("span", { title: a.clientDescription }, badge(a.clientStatus)),
          a.desiredStatus,
          a.health ? badge(a.health === "healthy" ? "passing" : "critical", a.health) : h("span", { class: "muted" }, "–"),
          ago(a.modifiedAt),
          h("button", { type: "button", class: "btn btn-small", "aria-pressed": String(a.id === selected), "aria-label": `Logs and tasks of allocation ${shortId(a.id)}`, onClick: () => choose(a.id) }, a.id === selected ? "Shown below" : "Logs and tasks"),
        ]),
        { captionHidden: true, empty: "No allocations (yet)." },
      ),
    );

  const choose = (allocId: string) => {
    selected = allocId;
    // Keep the choice in the address (no new history entry) so a reload shows it again.
    history.replaceState(null, "", `${jobHref({ namespace, id })}?alloc=${enc(allocId)}`);
    renderList();
    showDetail(true);
  };

  const showDetail = async (restartLogs: boolean) => {
    if (!selected) return fill(detail);
    if (restartLogs) {
      detailCtrl?.abort();
      detailCtrl = new AbortController();
    }
    const signal = detailCtrl!.signal;
    try {
      const a = (await api<AllocView>(`/v1/allocation/${enc(selected)}`, { signal })).data;
      const tasks = a.groupSpec?.tasks.map((t) => t.name) ?? Object.keys(a.taskStates);
      const states = table(
        "Tasks",
        ["Task", "State", "Restarts", "Exit code", "Started", "Last event"],
        tasks.map((t) => {
          const s = a.taskStates[t];
          const last = s?.events[s.events.length - 1];
          // A lifecycle task says when it runs (prestart, poststart, poststop; sidecar).
          const lc = a.groupSpec?.tasks.find((x) => x.name === t)?.lifecycle;
          return [lc ? `${t} (${lc.hook}${lc.sidecar ? " sidecar" : ""})` : t, s ? badge(s.failed ? "failed" : s.state) : badge("pending"), s?.restarts ?? 0, s?.exitCode ?? "–", s?.startedAt ? ago(s.startedAt) : "–", last ? `${last.type}: ${last.message}` : "–"];
        }),
        { captionHidden: true },
      );
      const old = detail.querySelector(".logtail");
      const tail = restartLogs || !old ? logTail(a.id, tasks, signal) : old;
      fill(detail, section(`Allocation ${shortId(a.id)}`, h("p", { class: "lead" }, badge(a.clientStatus), ` ${a.clientDescription || ""}`), states, h("h3", null, "Output"), tail));
    } catch (err) {
      if (!signal.aborted) fill(detail, section("Allocation", errorView(err, "this allocation", `job read on "${id}"`)));
    }
  };

  ctx.watch<AllocView[]>(
    `/v1/job/${enc(id)}/allocations?${ns}`,
    (data) => {
      list = [...data].sort((a, b) => b.modifiedAt - a.modifiedAt);
      renderList();
    },
    { onError: (err) => fill(allocs, errorView(err, "allocations", `job read on "${id}"`)) },
  );
  if (selected) void showDetail(true);
  const refreshDetail = ctx.debounce(() => void showDetail(false), 250);
  ctx.on("allocation", (e) => selected && (e.payload.allocId === selected || e.type === "PlanCommitted") && refreshDetail());
}

function renderJob(el: HTMLElement, j: JobView): void {
  const groups = j.spec?.groups ?? [];
  const deployment = j.deployments?.[0];
  fill(
    el,
    dl([
      ["Namespace", j.namespace],
      ["Type", j.type],
      ["Priority", String(j.priority)],
      ["Version", `v${j.version}${j.stableVersion !== null ? ` (last stable v${j.stableVersion})` : ""}`],
      ["Submitted", new Date(j.submittedAt).toLocaleString()],
      ["Allocations", allocChips(j.allocations)],
      ["Deployment", deployment ? [badge(deployment.status), ` v${deployment.jobVersion} ${deployment.statusDescription}`] : "none"],
    ]),
    table(
      "Groups",
      ["Group", "Count", "Tasks"],
      groups.map((g) => [g.name, String(g.count), g.tasks.map((t) => `${t.name} (${[t.command, ...(t.args ?? [])].join(" ")})`).join(", ")]),
      { empty: "No groups." },
    ),
    deployment ? deploymentPanel(deployment, j.id) : null,
    placementFailure(j),
  );
}

/** Nomad's "Placement Failure" block, in the CLI's words (core/scheduler/placement-failure.ts); nothing when all is placed. */
function placementFailure(j: JobView): HTMLElement | null {
  const pf = j.placementFailure;
  if (!pf || Object.keys(pf.failedTGAllocs).length === 0) return null;
  return h("div", { class: "placement-failure", role: "status" },
    h("h3", null, `Placement failure (evaluation ${shortId(pf.evalId)}, ${pf.evalStatus})`),
    h("pre", null, placementFailureText(pf.failedTGAllocs).join("\n")),
  );
}
