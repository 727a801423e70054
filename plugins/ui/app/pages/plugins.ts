// Plugins of the node serving this page, with enable/disable switches
// (PUT /v1/plugins/{name}) and reload (POST /v1/plugins/{name}/reload).
// Re-read on `plugin` events (node-local, live only). A switch the token
// may not use stays focusable but inert, with the reason written beside it.
import { api, enc, HttpError } from "../api.ts";
import { confirmDialog } from "../dialog.ts";
import { badge, fill, h, section, uid } from "../dom.ts";
import { errorView, filteredNote, loading, type PageCtx } from "../page.ts";
import { can, reasonFor } from "../session.ts";

interface PluginInfo {
  name: string;
  version: string;
  description: string;
  source: "builtin" | "external";
  state: "enabled" | "disabled" | "failed";
  error?: string;
}

export function pluginsPage(ctx: PageCtx): void {
  ctx.title("Plugins");
  const body = h("div", null, loading("plugins"));
  ctx.main.append(section("Plugins of this node", h("p", { class: "hint" }, "Switching a plugin lasts until the node restarts or re-reads its config (SIGHUP)."), body));
  let plugins: PluginInfo[] = [];
  let allowed: Record<string, boolean> = {};
  let note: HTMLElement | null = null;
  const errors = new Map<string, string>();
  const busy = new Set<string>();

  // When the token may change none of them, one note says so instead of a reason on every row.
  const noneId = uid("why");
  const noneAllowed = () => plugins.length > 0 && plugins.every((p) => allowed[`plugin:write:${p.name}`] === false);

  // Rows are rebuilt on every change; fill() keeps the keyboard focus on the same control.
  const render = () => {
    fill(
      body,
      noneAllowed() ? h("p", { id: noneId, class: "reason" }, "Your token may not switch or reload plugins here: it needs plugin write on each (for example plugin_prefix \"\" { policy = \"write\" }).") : null,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          null,
          h("caption", { class: "visually-hidden" }, "Plugins"),
          h("thead", null, h("tr", null, ["Plugin", "State", "Enabled", "Reload"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", null, plugins.map(row)),
        ),
      ),
      note,
    );
  };

  const row = (p: PluginInfo) => {
    const check = `plugin:write:${p.name}`;
    const ok = allowed[check] !== false;
    const shared = noneAllowed();
    const reasonId = shared ? noneId : uid("why");
    const on = p.state === "enabled";
    const inert = !ok || busy.has(p.name);
    const toggle = h(
      "button",
      {
        type: "button", role: "switch", class: "switch", "aria-checked": String(on), "aria-label": `Enable ${p.name}`,
        "aria-disabled": inert ? "true" : null, "aria-describedby": !ok ? reasonId : null, "data-plugin": p.name,
        onClick: () => !inert && void setEnabled(p, !on),
      },
      h("span", { class: "switch-track", "aria-hidden": "true" }, h("span", { class: "switch-thumb" })),
      h("span", { class: "switch-text" }, on ? "On" : "Off"),
    );
    const reload = h("button", { type: "button", class: "btn btn-small", "aria-disabled": inert ? "true" : null, "aria-describedby": !ok ? reasonId : null, "aria-label": `Reload ${p.name}`, onClick: () => !inert && void reloadPlugin(p) }, "Reload");
    return h(
      "tr",
      { "data-plugin-row": p.name },
      h("th", { scope: "row" }, h("div", null, p.name, " ", h("span", { class: "muted small" }, `${p.version} · ${p.source}`)), h("div", { class: "desc small" }, p.description)),
      h("td", null, badge(p.state), p.error ? h("div", { class: "output small" }, p.error) : null),
      h("td", null, toggle, !ok && !shared ? h("div", { id: reasonId, class: "reason small" }, reasonFor(check)) : null, errors.has(p.name) ? h("div", { class: "form-error small", role: "alert" }, errors.get(p.name)) : null),
      h("td", null, reload),
    );
  };

  const act = async (p: PluginInfo, fn: () => Promise<PluginInfo>) => {
    busy.add(p.name);
    errors.delete(p.name);
    render();
    try {
      const info = await fn();
      plugins = plugins.map((x) => (x.name === info.name ? info : x));
    } catch (err) {
      errors.set(p.name, err instanceof HttpError && err.denied ? `Refused: ${err.message}` : (err as Error).message);
    } finally {
      busy.delete(p.name);
      render();
    }
  };

  const setEnabled = async (p: PluginInfo, enabled: boolean) => {
    if (!enabled && p.name === "ui") {
      const sure = await confirmDialog({
        title: "Turn the dashboard off?",
        body: h("p", null, "This page keeps working until it is reloaded, but the node stops serving /ui. Turn it back on with corral plugins enable ui."),
        confirm: "Turn off ui", danger: true,
      });
      if (!sure) return;
    }
    await act(p, async () => (await api<PluginInfo>(`/v1/plugins/${enc(p.name)}`, { method: "PUT", body: { enabled } })).data);
  };

  const reloadPlugin = (p: PluginInfo) => act(p, async () => (await api<PluginInfo>(`/v1/plugins/${enc(p.name)}/reload`, { method: "POST" })).data);

  const load = async () => {
    try {
      const a = await api<PluginInfo[]>("/v1/plugins", { signal: ctx.signal });
      plugins = a.data.sort((x, y) => x.name.localeCompare(y.name));
      note = filteredNote(a.headers);
      allowed = await can(plugins.map((p) => `plugin:write:${p.name}`));
      if (!ctx.signal.aborted) render();
    } catch (err) {
      if (!ctx.signal.aborted) fill(body, errorView(err, "plugins", "plugin read"));
    }
  };
  void load();
  const again = ctx.debounce(load, 200);
  ctx.on("plugin", again);
}
