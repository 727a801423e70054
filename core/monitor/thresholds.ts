// The threshold state machine for node-level health, one per node, pure
// (the caller passes each sample with the time it was received):
//
//   passing --(CPU or memory above its threshold for `durationMs`)--> warning
//   warning --(both back at or under for `durationMs`)-------------> passing
//
// Requiring the same duration both ways is hysteresis: a node hovering
// around a threshold does not flap, and only transitions reach the log.
// A threshold of 0 turns that check off.
import type { LiveSample } from "../cluster/protocol.ts";

export interface ThresholdOptions {
  /** CPU busy percent (0-100); 0: off. */
  cpuPercent: number;
  /** Memory in use, percent of used + available; 0: off. */
  memoryPercent: number;
  durationMs: number;
}

export type HealthStatus = "passing" | "warning";

export interface ThresholdState {
  health: HealthStatus;
  /** Since when every sample has been over a threshold (while passing). */
  overSince?: number;
  /** Since when every sample has been under (while warning). */
  underSince?: number;
}

export interface Transition {
  status: HealthStatus;
  reason: string;
}

export function memoryPercent(s: Pick<LiveSample, "memoryUsedBytes" | "memoryAvailableBytes">): number {
  const total = s.memoryUsedBytes + s.memoryAvailableBytes;
  return total > 0 ? (s.memoryUsedBytes / total) * 100 : 0;
}

/** What is over its threshold in this sample, e.g. ["cpu 97.5% > 90%"]; empty when nothing is. */
export function overThresholds(s: LiveSample, t: ThresholdOptions): string[] {
  const over: string[] = [];
  if (t.cpuPercent > 0 && s.cpuPercent > t.cpuPercent) over.push(`cpu ${s.cpuPercent.toFixed(1)}% > ${t.cpuPercent}%`);
  const mem = memoryPercent(s);
  if (t.memoryPercent > 0 && mem > t.memoryPercent) over.push(`memory ${mem.toFixed(1)}% > ${t.memoryPercent}%`);
  return over;
}

/** Feeds one sample received at `nowMs`; returns the next state and the transition it caused, if any. */
export function stepThreshold(
  state: ThresholdState,
  sample: LiveSample,
  nowMs: number,
  t: ThresholdOptions,
): { state: ThresholdState; transition?: Transition } {
  const over = overThresholds(sample, t);
  const seconds = `${Math.round(t.durationMs / 1000)}s`;
  if (state.health === "passing") {
    if (over.length === 0) return { state: { health: "passing" } };
    const overSince = state.overSince ?? nowMs;
    if (nowMs - overSince < t.durationMs) return { state: { health: "passing", overSince } };
    return { state: { health: "warning" }, transition: { status: "warning", reason: `${over.join(", ")} for ${seconds}` } };
  }
  if (over.length > 0) return { state: { health: "warning" } };
  const underSince = state.underSince ?? nowMs;
  if (nowMs - underSince < t.durationMs) return { state: { health: "warning", underSince } };
  return { state: { health: "passing" }, transition: { status: "passing", reason: `cpu and memory under their thresholds for ${seconds}` } };
}
