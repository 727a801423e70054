// The server-paged lists of jobs, nodes and allocations (paged-list.ts),
// shared by the overview and the lists' own pages.
import { enc } from "./api.ts";
import { badge, h } from "./dom.ts";
import { ago } from "./format.ts";
import { allocChips, jobHref, type AllocView, type JobView } from "./jobs.ts";
import type { NodeInfo } from "./nodes.ts";
import { pagedList, type PagedList } from "./paged-list.ts";
import type { PageCtx } from "./page.ts";

export function jobsList(ctx: PageCtx, perPage: number): PagedList {
  return pagedList<JobView>(ctx, {
    id: "jobs", path: "/v1/jobs", perPage, noun: "jobs", plainMeans: "job ID prefix", needs: "job read",
    headers: ["Job", "Namespace", "Type", "Status", "Allocations", "Version"], phoneHides: [1, 2, 5],
    row: (j) => [h("a", { href: jobHref(j) }, j.id), j.namespace, j.type, badge(j.status), allocChips(j.allocations), `v${j.version}`],
    key: (j) => `${j.namespace}/${j.id}`,
    empty: "No jobs. Submit one with corral job run FILE.",
    // /v1/jobs answers blocking queries: the page shown follows its jobs' allocations live.
    blocking: true,
  });
}

export function nodesList(ctx: PageCtx, perPage: number): PagedList {
  return pagedList<NodeInfo>(ctx, {
    id: "nodes", path: "/v1/nodes", perPage, noun: "nodes", plainMeans: "node name prefix", needs: "node read",
    headers: ["Node", "Status", "Datacenter", "Address", "Heartbeat"], phoneHides: [2, 3],
    row: (n) => [
      [h("a", { href: `#/nodes/${enc(n.id)}` }, n.name), h("div", { class: "muted small" }, n.role)],
      h("span", { class: "chips" }, badge(n.status), n.health === "warning" ? h("span", { title: n.healthReason }, badge("warning", "warning")) : null),
      n.datacenter,
      h("code", null, n.address),
      ago(n.lastHeartbeatAt),
    ],
    key: (n) => n.id,
    empty: "No nodes have joined yet.",
    topics: ["node"],
  });
}

export function allocationsList(ctx: PageCtx, perPage: number): PagedList {
  return pagedList<AllocView>(ctx, {
    id: "allocations", path: "/v1/allocations", perPage, noun: "allocations", plainMeans: "job ID", needs: "job read",
    // ?job= is an exact job ID, matched in SQL; a prefix would need a scan.
    plain: (t) => ({ job: t }),
    headers: ["Allocation", "Job", "Group", "Node", "Desired", "Status"], phoneHides: [2, 3],
    row: (a) => [
      h("a", { href: `${jobHref({ namespace: a.namespace, id: a.jobId })}?alloc=${enc(a.id)}` }, h("code", null, a.id.slice(0, 8))),
      h("a", { href: jobHref({ namespace: a.namespace, id: a.jobId }) }, a.jobId),
      `${a.groupName}[${a.taskGroupIndex}]`,
      a.nodeName ? h("a", { href: `#/nodes/${enc(a.nodeId)}` }, a.nodeName) : h("code", null, a.nodeId.slice(0, 8)),
      a.desiredStatus,
      badge(a.clientStatus),
    ],
    key: (a) => a.id,
    empty: "No allocations.",
    topics: ["allocation"],
  });
}
