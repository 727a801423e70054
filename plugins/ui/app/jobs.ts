// Shapes of the jobs API (docs/jobs.md) and how allocation counts are shown.
import type { FailedTGAllocs } from "../../../core/sdk/browser.ts";
import { h } from "./dom.ts";

export type ClientStatus = "pending" | "running" | "complete" | "failed" | "lost";
export const CLIENT_STATUSES: ClientStatus[] = ["running", "pending", "complete", "failed", "lost"];

export interface JobView {
  namespace: string;
  id: string;
  type: string;
  priority: number;
  version: number;
  status: string;
  stop: boolean;
  stableVersion: number | null;
  submittedAt: number;
  allocations: Record<ClientStatus, number>;
  spec?: { groups: { name: string; count: number; tasks: { name: string; command: string; args?: string[] }[] }[] };
  versions?: number[];
  deployments?: import("./deployment.ts").DeploymentRowView[];
  /** Why something is not placed: the deciding evaluation's FailedTGAllocs (core/api/job-placement.ts). */
  placementFailure?: { evalId: string; evalStatus: string; failedTGAllocs: FailedTGAllocs } | null;
}

export interface TaskState {
  state: string;
  failed: boolean;
  restarts: number;
  exitCode: number | null;
  startedAt: number;
  finishedAt: number;
  events: { at: number; type: string; message: string }[];
}

export interface AllocView {
  id: string;
  namespace: string;
  jobId: string;
  jobVersion: number;
  groupName: string;
  taskGroupIndex: number;
  nodeId: string;
  nodeName: string | null;
  desiredStatus: "run" | "stop";
  desiredDescription: string;
  clientStatus: ClientStatus;
  clientDescription: string;
  health: string;
  taskStates: Record<string, TaskState>;
  modifiedAt: number;
  groupSpec?: { tasks: { name: string; lifecycle?: { hook: string; sidecar: boolean } }[] };
}

/** "2 running, 1 failed" as status chips; nothing live: "none". */
export function allocChips(counts: Partial<Record<ClientStatus, number>>): HTMLElement {
  const parts = CLIENT_STATUSES.filter((s) => (counts[s] ?? 0) > 0);
  if (parts.length === 0) return h("span", { class: "muted" }, "none");
  return h("span", { class: "chips" }, parts.map((s) => h("span", { class: `badge badge-${s}` }, `${counts[s]} ${s}`)));
}

export function jobHref(j: { namespace: string; id: string }): string {
  return `#/jobs/${encodeURIComponent(j.namespace)}/${encodeURIComponent(j.id)}`;
}
