// One service: its instances and every check that decides their health,
// kept current by a blocking query on /v1/health/service/{name}.
import { enc } from "../api.ts";
import { badge, fill, h, section, table } from "../dom.ts";
import { errorView, loading, type PageCtx } from "../page.ts";
import { worst, type HealthEntry } from "../services.ts";

export function servicePage(ctx: PageCtx, name: string): void {
  const summary = h("span", { class: "chips" });
  ctx.title(name, summary);
  ctx.crumbs(["Overview", "#/"], ["Services"], [name]);
  const instances = h("div", null, loading("instances"));
  const checks = h("div", null, loading("checks"));
  ctx.main.append(section("Instances", instances), section("Checks", checks));

  ctx.watch<HealthEntry[]>(
    `/v1/health/service/${enc(name)}`,
    (entries) => {
      const counts = { passing: 0, warning: 0, critical: 0 };
      for (const e of entries) counts[worst(e.Checks)]++;
      fill(summary, (["passing", "warning", "critical"] as const).map((s) => badge(s, `${counts[s]} ${s}`)));
      fill(
        instances,
        table(
          "Instances",
          ["Instance", "Node", "Address", "Tags", "Health"],
          entries.map((e) => [
            h("code", null, e.Service.ID),
            h("a", { href: `#/nodes/${enc(e.Node.ID)}` }, e.Node.Node),
            h("code", null, `${e.Service.Address || e.Node.Address}:${e.Service.Port}`),
            e.Service.Tags.length ? h("span", { class: "chips" }, e.Service.Tags.map((t) => h("span", { class: "tag" }, t))) : h("span", { class: "muted" }, "–"),
            badge(worst(e.Checks)),
          ]),
          { captionHidden: true, empty: "No instances: the service is not registered anywhere (any more)." },
        ),
      );
      const rows = entries.flatMap((e) =>
        e.Checks.map((c) => ({ c, instance: c.ServiceID ? e.Service.ID : `node ${e.Node.Node}` })),
      );
      fill(
        checks,
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            null,
            h("caption", { class: "visually-hidden" }, "Checks"),
            h("thead", null, h("tr", null, ["Check", "Instance", "Type", "Status", "Output"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              null,
              rows.map(({ c, instance }) =>
                h(
                  "tr",
                  { "data-check-id": c.CheckID, "data-status": c.Status },
                  h("th", { scope: "row" }, c.Name || c.CheckID, h("div", { class: "muted small" }, h("code", null, c.CheckID))),
                  h("td", null, instance),
                  h("td", null, c.Type || "serf"),
                  h("td", null, badge(c.Status)),
                  h("td", null, h("span", { class: "output" }, c.Output || c.Notes || "")),
                ),
              ),
            ),
          ),
        ),
      );
    },
    { onError: (err) => fill(instances, errorView(err, `the service ${name}`, `service read on "${name}"`)) },
  );
}
