// The job page's deployment panel: per task group the desired count, the
// canaries (placed of desired), healthy and unhealthy allocations and
// whether it is promoted; while canaries wait, a Promote button that calls
// POST /v1/deployment/promote/{id} with the user's token. The button is
// inert, with the reason beside it, when the token lacks job write (asked
// of the server's own ACL check, session.ts), and the server's refusal
// ("0/1 healthy canaries") is shown as it comes.
import { api, enc, HttpError } from "./api.ts";
import { badge, h, table, uid } from "./dom.ts";
import { shortId } from "./format.ts";
import { can, reasonFor } from "./session.ts";

/** A deployment as GET /v1/job/{id} lists it (the state's row). */
export interface DeploymentRowView {
  id: string;
  jobVersion: number;
  status: string;
  statusDescription: string;
  groups?: Record<string, {
    desired: number; placed: number; healthy: number; unhealthy: number; autoRevert: boolean;
    desiredCanaries?: number; placedCanaries?: string[]; promoted?: boolean; autoPromote?: boolean;
  }>;
}

/** Groups whose canaries still wait for a promotion. */
export function awaitingPromotion(d: DeploymentRowView): string[] {
  if (d.status !== "running") return [];
  return Object.entries(d.groups ?? {}).filter(([, g]) => (g.desiredCanaries ?? 0) > 0 && !g.promoted).map(([name]) => name);
}

export function deploymentPanel(d: DeploymentRowView, jobId: string): HTMLElement {
  const groups = Object.entries(d.groups ?? {});
  const withCanaries = groups.some(([, g]) => (g.desiredCanaries ?? 0) > 0);
  const rows = groups.map(([name, g]) => [
    name, String(g.desired),
    (g.desiredCanaries ?? 0) > 0 ? `${g.placedCanaries?.length ?? 0} / ${g.desiredCanaries}` : "–",
    String(g.healthy), String(g.unhealthy),
    (g.desiredCanaries ?? 0) > 0 ? (g.promoted ? "yes" : g.autoPromote ? "no (auto)" : "no") : "–",
  ]);
  const panel = h(
    "div",
    { class: "deployment", "data-deployment": d.id },
    h("h3", null, "Deployment"),
    h("p", null, badge(d.status), ` Deployment `, h("code", { title: d.id }, shortId(d.id)), ` of v${d.jobVersion}${d.statusDescription ? ` — ${d.statusDescription}` : ""}`),
    table("Deployment by task group", ["Group", "Desired", "Canaries", "Healthy", "Unhealthy", "Promoted"], rows, { captionHidden: true, empty: "No task groups." }),
  );
  const waiting = awaitingPromotion(d);
  if (!withCanaries || waiting.length === 0) return panel;

  const out = h("p", { role: "status", class: "small" });
  const reasonId = uid("why");
  const reason = h("div", { id: reasonId, class: "reason small", hidden: true });
  let busy = false;
  const button = h("button", {
    type: "button", class: "btn", "aria-label": `Promote deployment ${shortId(d.id)}`, "aria-describedby": reasonId,
    onClick: async () => {
      if (busy || button.getAttribute("aria-disabled") === "true") return;
      busy = true;
      out.textContent = "Promoting…";
      try {
        const a = await api<{ EvalID: string; Promoted: string[] }>(`/v1/deployment/promote/${enc(d.id)}`, { method: "POST", body: { All: true } });
        out.textContent = `Promoted ${a.data.Promoted.join(", ")}; the rollout continues (evaluation ${shortId(a.data.EvalID)}).`;
      } catch (err) {
        out.textContent = err instanceof HttpError && err.denied ? `Refused: ${err.message}` : (err as Error).message;
      } finally {
        busy = false;
      }
    },
  }, "Promote");
  const check = `job:write:${jobId}`;
  void can([check]).then((r) => {
    if (r[check] !== false) return;
    button.setAttribute("aria-disabled", "true");
    reason.hidden = false;
    reason.textContent = reasonFor(check);
  }).catch(() => {});
  panel.append(h("div", { class: "actions" }, button, reason), out);
  return panel;
}
