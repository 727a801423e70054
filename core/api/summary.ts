// GET /v1/summary: how many jobs, nodes and live allocations the token may
// read, by status — what the dashboard's overview shows at the top. Counted
// by the server (core/state/domains/summary-counts.ts) so the page never
// fetches a whole list to count it: at 100,000 jobs that list is ~100 MB.
//
// Any token may ask ("authenticated"); each count is of what *its* rules
// let it read, so a narrow token learns nothing about the rest (and the
// answer says it may be partial, as the lists do).
import { createRoute, z } from "@hono/zod-openapi";
import { FILTERED_HEADER, readScope } from "../acl/read-scope.ts";
import type { StatusCounts } from "../state/domains/summary-counts.ts";
import type { CoreApiDeps } from "./deps.ts";
import { jsonResponse } from "./schemas.ts";

const Counted = z.object({ total: z.number().int(), byStatus: z.record(z.string(), z.number().int()) });
const SummaryView = z.object({ jobs: Counted, nodes: Counted, allocations: Counted });

function counted(byStatus: StatusCounts) {
  return { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus };
}

export function summaryRoutes(d: CoreApiDeps): void {
  // What a token that reads everything gets, kept until one of the three
  // tables changes: every open dashboard asks on each change and each
  // navigation, and at 100,000 jobs a count is an index scan of 100,000
  // entries. Narrow tokens' counts depend on their rules: counted each time.
  let cached: { key: string; value: ReturnType<typeof countAll> } | undefined;
  const countAll = () => ({
    jobs: counted(d.state.counts.jobs()),
    nodes: counted(d.state.counts.nodes()),
    allocations: counted(d.state.counts.allocations()),
  });
  const everything = () => {
    const key = ["jobs", "nodes", "allocations"].map((t) => d.state.tableIndex(t)).join(":");
    if (cached?.key !== key) cached = { key, value: countAll() };
    return cached.value;
  };

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/summary", tags: ["status"],
      summary: "Counts of the jobs, nodes and live allocations the token may read, by status (the dashboard's overview)",
      responses: jsonResponse(SummaryView),
    }),
    handler: (c) => {
      const scope = readScope(c);
      // undefined: the token reads every one, and SQL counts them; else each row is checked by name.
      const jobRule = scope.seesAll("job") ? undefined : (id: string) => scope.can("job", id);
      const nodeRule = scope.seesAll("node") ? undefined : (name: string) => scope.can("node", name);
      if (!jobRule && !nodeRule) return c.json(everything());
      c.header(FILTERED_HEADER, "true");
      return c.json({
        jobs: counted(d.state.counts.jobs(jobRule)),
        nodes: counted(d.state.counts.nodes(nodeRule)),
        allocations: counted(d.state.counts.allocations(jobRule)),
      });
    },
    leader: "read", // an agent holds no state: it asks a leader
    permission: "authenticated",
  });
}
