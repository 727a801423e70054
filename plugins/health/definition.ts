// A check as the health plugin runs it, read from the Consul definition the
// discovery plugin stored (HTTP, Method, Header, Body, TLSSkipVerify, TCP,
// GRPC, GRPCUseTLS, ScriptArgs, Interval, Timeout, SuccessBeforePassing, FailuresBefore*).
// Pure; discovery validated the definition when it was registered.
import type { LocalCheckInfo } from "../discovery/topics.ts";
import { goDurationMs, parseGrpcTarget, stableJson, type GrpcProbeSpec, type HttpProbeSpec, type TcpProbeSpec } from "../../core/sdk/index.ts";
import { thresholds, type Thresholds } from "./thresholds.ts";

// The http and tcp probes and their specs are core's (core/checks/probes.ts, through the SDK): exec runs them too.
export type { GrpcProbeSpec, HttpProbeSpec, TcpProbeSpec };
export interface ExecProbeSpec {
  kind: "exec";
  args: string[];
}
/** A definition that cannot run (a bad TCP address): reported critical with `reason`. */
export interface InvalidProbeSpec {
  kind: "invalid";
  reason: string;
}
export type ProbeSpec = HttpProbeSpec | TcpProbeSpec | GrpcProbeSpec | ExecProbeSpec | InvalidProbeSpec;

export interface RunSpec {
  id: string;
  probe: ProbeSpec;
  intervalMs: number;
  timeoutMs: number;
  thresholds: Thresholds;
}

/** The same check: a re-registration with an equal spec keeps its schedule and counters. */
export function sameSpec(a: RunSpec, b: RunSpec): boolean {
  return stableJson(a) === stableJson(b);
}

/** Consul's defaults: 10 s for http/tcp/grpc, 30 s for scripts. */
export const DEFAULT_TIMEOUT_MS = { http: 10_000, tcp: 10_000, grpc: 10_000, exec: 30_000 } as const;

/** "host:port", "[v6]:port"; undefined when it is neither. */
export function splitHostPort(addr: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

const NO_HEADERS: [string, string][] = [];

function headerPairs(v: unknown): [string, string][] {
  if (!v || typeof v !== "object" || Object.keys(v).length === 0) return NO_HEADERS;
  const out: [string, string][] = [];
  for (const [name, values] of Object.entries(v as Record<string, unknown>)) {
    for (const value of Array.isArray(values) ? values : [values]) if (typeof value === "string") out.push([name, value]);
  }
  return out;
}

function probeSpec(info: LocalCheckInfo): ProbeSpec {
  const d = info.definition;
  if (info.type === "http") {
    return {
      kind: "http", url: String(d.HTTP ?? ""), method: typeof d.Method === "string" && d.Method ? d.Method.toUpperCase() : "GET",
      headers: headerPairs(d.Header), body: typeof d.Body === "string" ? d.Body : undefined, tlsSkipVerify: d.TLSSkipVerify === true,
      ...(d.DisableRedirects === true ? { disableRedirects: true } : {}),
    };
  }
  if (info.type === "tcp") {
    const hp = splitHostPort(String(d.TCP ?? ""));
    return hp ? { kind: "tcp", ...hp } : { kind: "invalid", reason: `TCP address ${JSON.stringify(d.TCP)} is not host:port` };
  }
  if (info.type === "grpc") {
    const t = parseGrpcTarget(String(d.GRPC ?? ""));
    return t
      ? { kind: "grpc", ...t, tls: d.GRPCUseTLS === true, tlsSkipVerify: d.TLSSkipVerify === true }
      : { kind: "invalid", reason: `GRPC target ${JSON.stringify(d.GRPC)} is not host:port or host:port/service` };
  }
  const args = Array.isArray(d.ScriptArgs) ? d.ScriptArgs.filter((a): a is string => typeof a === "string") : [];
  return args.length > 0 ? { kind: "exec", args } : { kind: "invalid", reason: "script check without Args" };
}

/** The run spec of a runnable check; intervals below `minIntervalMs` are raised to it (Consul: 1 s). */
export function runSpec(info: LocalCheckInfo, minIntervalMs: number): RunSpec {
  const d = info.definition;
  const probe = probeSpec(info);
  const interval = goDurationMs(d.Interval) ?? 0;
  const timeout = goDurationMs(d.Timeout) ?? 0;
  const kind = probe.kind === "invalid" ? "http" : probe.kind;
  return {
    id: info.id, probe,
    intervalMs: Math.max(minIntervalMs, Math.round(interval)),
    timeoutMs: timeout > 0 ? Math.round(timeout) : DEFAULT_TIMEOUT_MS[kind],
    thresholds: thresholds(d),
  };
}
