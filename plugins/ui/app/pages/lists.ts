// The lists' own pages (#/jobs, #/nodes, #/allocations): one server page at a
// time, filtered by the server, at any cluster size (paged-list.ts).
import { section } from "../dom.ts";
import { allocationsList, jobsList, nodesList } from "../lists.ts";
import type { PageCtx } from "../page.ts";
import type { PagedList } from "../paged-list.ts";

/** Rows per page: a screenful or two, whatever the list's size. */
const PAGE = 50;

function listPage(ctx: PageCtx, title: string, list: (ctx: PageCtx, perPage: number) => PagedList): void {
  ctx.title(title);
  ctx.crumbs(["Overview", "#/"], [title]);
  ctx.main.append(section(title, list(ctx, PAGE).el));
}

export const jobsPage = (ctx: PageCtx) => listPage(ctx, "Jobs", jobsList);
export const nodesPage = (ctx: PageCtx) => listPage(ctx, "Nodes", nodesList);
export const allocationsPage = (ctx: PageCtx) => listPage(ctx, "Allocations", allocationsList);
