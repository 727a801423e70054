// Paged lists from the CLI: list commands fetch every page (the server cuts
// them by key, so nothing is missed or repeated while the list changes), or
// one page with --per-page (and --page-token for the next), as Nomad's CLI.
import type { FlagSpec, Parsed } from "./args.ts";
import type { ApiClient } from "./client.ts";

/** Each page fetched when the user did not ask for one page: bounds each answer's size on the server. */
const FETCH_PAGE = 100;

export const pageFlags: Record<string, FlagSpec> = {
  "per-page": { type: "number", value: "N", help: "Show one page of N items (the next page's token is printed on stderr)" },
  "page-token": { type: "string", value: "TOKEN", help: "Start at this page token (from --per-page)" },
  filter: { type: "string", value: "EXPR", help: 'Only items matching a filter expression, e.g. \'Status == "running"\' (docs/api.md#lists)' },
};

/** Every item of a paged list (or the page the flags ask for). `path` may hold a query already. */
export async function listAll<T>(client: ApiClient, path: string, args?: Parsed): Promise<T[]> {
  const perPage = args?.flags["per-page"] as number | undefined;
  const filter = args?.flags.filter as string | undefined;
  let token = args?.flags["page-token"] as string | undefined;
  const out: T[] = [];
  for (;;) {
    const q = new URLSearchParams({ per_page: String(perPage ?? FETCH_PAGE) });
    if (token) q.set("next_token", token);
    if (filter) q.set("filter", filter);
    const page = await client.getPage<T[]>(path + (path.includes("?") ? "&" : "?") + q.toString());
    out.push(...page.body);
    token = page.nextToken;
    if (!token) return out;
    if (perPage !== undefined) {
      process.stderr.write(`More items: --page-token ${token}\n`);
      return out;
    }
  }
}
