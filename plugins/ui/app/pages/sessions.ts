// Sessions (Consul's /v1/session/list, kept current by a blocking query):
// who holds locks through the KV store, with a destroy button (which
// releases or deletes the session's keys, per its Behavior). The KV page
// links each locked key's holder here (#/sessions/<id>).
import { api, encPath } from "../api.ts";
import { confirmDialog } from "../dialog.ts";
import { fill, h, section, table } from "../dom.ts";
import { errorView, loading, type PageCtx } from "../page.ts";

interface Session {
  ID: string;
  Name: string;
  Node: string;
  TTL: string;
  Behavior: string;
  LockDelay: number;
  NodeChecks: string[] | null;
  CreateIndex: number;
}

export function sessionsPage(ctx: PageCtx, focus: string): void {
  ctx.title("Sessions");
  const body = h("div", null, loading("sessions"));
  const out = h("p", { role: "status", class: "small" });
  ctx.main.append(section("Sessions", h("p", { class: "hint" }, "A session holds KV locks (?acquire=). Destroying one releases its locks, or deletes its keys when its behavior is delete."), body, out));
  const destroy = async (s: Session) => {
    const sure = await confirmDialog({ title: "Destroy this session?", body: h("p", null, "Every lock held by ", h("code", null, s.ID), ` is ${s.Behavior === "delete" ? "deleted" : "released"}, and the holder loses it.`), confirm: "Destroy", danger: true });
    if (!sure) return;
    try {
      await api(`/v1/session/destroy/${encPath(s.ID)}`, { method: "PUT" });
      out.textContent = `Destroyed ${s.ID}.`;
    } catch (err) {
      out.textContent = (err as Error).message;
    }
  };
  ctx.watch<Session[]>("/v1/session/list", (list) => {
    fill(body, table("Sessions", ["ID", "Name", "Node", "TTL", "Behavior", "Lock delay", "Checks", "Action"], list.map((s) => [
      h("span", { class: "mono", "aria-current": s.ID === focus ? "true" : null }, s.ID), s.Name || "—", s.Node, s.TTL || "none", s.Behavior,
      `${s.LockDelay / 1e9}s`, (s.NodeChecks ?? []).join(", ") || "—",
      h("button", { type: "button", class: "btn btn-danger btn-small", "aria-label": `Destroy session ${s.ID}`, onClick: () => void destroy(s) }, "Destroy"),
    ]), { empty: "No sessions.", captionHidden: true, phoneHides: [3, 5, 6] }));
  }, { onError: (err) => fill(body, errorView(err, "sessions", "session read")) });
}
