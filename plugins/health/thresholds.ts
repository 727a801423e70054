// What one check reports, pure (no clock of its own, no I/O):
//
// 1. Thresholds, as Consul's StatusHandler (agent/checks/check.go): a
//    passing or warning probe counts a success and clears the failures; the
//    status changes once `successBeforePassing` successes in a row were seen.
//    A critical probe counts a failure and clears the successes; at
//    `failuresBeforeCritical` failures in a row the check turns critical, at
//    `failuresBeforeWarning` (default: the same as critical, so never
//    earlier) warning. Below a threshold the check keeps its status. 0 (the
//    default) means the first result counts.
// 2. What goes to the log: only a status change is reported at once. An
//    output change with the same status is reported at most once per
//    `outputIntervalMs` (Consul's check_update_interval, 5 min), and the
//    discovery plugin keeps even that out of the log until its next full
//    sync: a check that keeps answering the same way writes nothing.
import type { CheckStatus } from "../../core/sdk/index.ts";

export interface Thresholds {
  successBeforePassing: number;
  failuresBeforeWarning: number;
  failuresBeforeCritical: number;
}

export interface Report {
  status: CheckStatus;
  output: string;
}

export class CheckState {
  private successes = 0;
  private failures = 0;
  /** When the output last went out (ms, the caller's clock). */
  private outputAt = -Infinity;
  private output = "";

  /** `reported`: the status the catalog has for the check now. */
  constructor(
    private t: Thresholds,
    public reported: CheckStatus,
    private outputIntervalMs: number,
  ) {}

  /** Status the check should have after this probe, or undefined when below its threshold. */
  private judge(status: CheckStatus): CheckStatus | undefined {
    if (status !== "critical") {
      this.successes++;
      this.failures = 0;
      return this.successes >= this.t.successBeforePassing ? status : undefined;
    }
    this.failures++;
    this.successes = 0;
    if (this.failures >= this.t.failuresBeforeCritical) return "critical";
    if (this.failures >= Math.min(this.t.failuresBeforeWarning, this.t.failuresBeforeCritical)) return "warning";
    return undefined;
  }

  /** Folds one probe result in; returns what to report now, if anything. */
  observe(result: Report, now: number): Report | undefined {
    const status = this.judge(result.status);
    if (status === undefined) return undefined;
    if (status !== this.reported) return this.emit(status, result.output, now);
    if (result.output !== this.output && now - this.outputAt >= this.outputIntervalMs) return this.emit(status, result.output, now);
    return undefined;
  }

  private emit(status: CheckStatus, output: string, now: number): Report {
    this.reported = status;
    this.output = output;
    this.outputAt = now;
    return { status, output };
  }

  /** Consecutive successes and failures (tests, debugging). */
  counters(): { successes: number; failures: number } {
    return { successes: this.successes, failures: this.failures };
  }
}

const DEFAULTS: Thresholds = Object.freeze({ successBeforePassing: 0, failuresBeforeWarning: 0, failuresBeforeCritical: 0 });

/** Consul's defaults: 0 for both, FailuresBeforeWarning = FailuresBeforeCritical (one shared object for the defaults). */
export function thresholds(def: { SuccessBeforePassing?: unknown; FailuresBeforeCritical?: unknown; FailuresBeforeWarning?: unknown }): Thresholds {
  const n = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);
  const critical = n(def.FailuresBeforeCritical) ?? 0;
  if (critical === 0 && n(def.SuccessBeforePassing) === undefined && n(def.FailuresBeforeWarning) === undefined) return DEFAULTS;
  return {
    successBeforePassing: n(def.SuccessBeforePassing) ?? 0,
    failuresBeforeCritical: critical,
    failuresBeforeWarning: n(def.FailuresBeforeWarning) ?? critical,
  };
}
