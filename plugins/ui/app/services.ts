// Shapes of Consul's health API as corral serves it, and the per-service
// summary the overview shows (instances by their worst check, as
// `corral services` counts them).
import { api, enc } from "./api.ts";

export interface HealthCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: "passing" | "warning" | "critical" | string;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
}

export interface HealthEntry {
  Node: { ID: string; Node: string; Address: string; Datacenter: string };
  Service: { ID: string; Service: string; Tags: string[]; Address: string; Port: number; Meta?: Record<string, string> };
  Checks: HealthCheck[];
}

export interface ServiceSummary {
  name: string;
  tags: string[];
  instances: number;
  passing: number;
  warning: number;
  critical: number;
}

export function worst(checks: { Status: string }[]): "passing" | "warning" | "critical" {
  if (checks.some((c) => c.Status === "critical")) return "critical";
  if (checks.some((c) => c.Status === "warning")) return "warning";
  return "passing";
}

/** At most this many services are summarised on the overview (each costs one request per change). */
export const MAX_SUMMARISED = 200;

export async function serviceSummaries(signal: AbortSignal): Promise<{ list: ServiceSummary[]; more: number; headers: Headers }> {
  const answer = await api<Record<string, string[]>>("/v1/catalog/services", { signal });
  const names = answer.data;
  const all = Object.entries(names).sort(([a], [b]) => a.localeCompare(b));
  const shown = all.slice(0, MAX_SUMMARISED);
  const list: ServiceSummary[] = [];
  // Four at a time: the page's other long-lived requests need connections too.
  for (let i = 0; i < shown.length; i += 4) {
    const part = await Promise.all(
      shown.slice(i, i + 4).map(async ([name, tags]) => {
        const entries = (await api<HealthEntry[]>(`/v1/health/service/${enc(name)}`, { signal })).data;
        const s: ServiceSummary = { name, tags, instances: entries.length, passing: 0, warning: 0, critical: 0 };
        for (const e of entries) s[worst(e.Checks)]++;
        return s;
      }),
    );
    list.push(...part);
  }
  return { list, more: all.length - shown.length, headers: answer.headers };
}
