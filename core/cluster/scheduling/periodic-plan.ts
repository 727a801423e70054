// When a periodic job launches next, pure: the leader's PeriodicLauncher
// arms timers from this and proposes the launches it returns.
//
// The schedule continues from the newest launch recorded in the state (or,
// for a job never launched, from when it was registered), so a new leader
// picks up exactly where the old one stopped: a launch time already
// recorded is not proposed again, and launch times that passed while no
// leader was there are launched late rather than lost (at most CATCH_UP of
// them; beyond that only the newest, as Nomad launches one missed run).
import { nextLaunch, parseCron, type CronSchedule, type PeriodicConfig } from "../../scheduler/index.ts";

export const CATCH_UP = 10;
/** Most launch times walked to catch up; past that the schedule resumes from now. */
const MAX_WALK = 1000;

export function compileCrons(p: PeriodicConfig): CronSchedule[] {
  const out: CronSchedule[] = [];
  for (const text of p.crons) {
    const r = parseCron(text);
    if (r.ok) out.push(r.cron);
  }
  return out;
}

export interface LaunchPlan {
  /** Launch times (ms, whole seconds) due now, oldest first. */
  due: number[];
  /** The next launch after those, or null when the expressions never match again. */
  next: number | null;
}

export function planLaunches(p: PeriodicConfig, lastMs: number, now: number): LaunchPlan {
  const crons = compileCrons(p);
  const due: number[] = [];
  let t = nextLaunch(crons, lastMs, p.timeZone);
  let skipped = 0;
  for (let steps = 0; t !== null && t <= now; steps++) {
    if (steps >= MAX_WALK) {
      // Far behind (a job every second, unled for hours): one late launch, then on from now.
      return { due: due.slice(-1), next: nextLaunch(crons, now, p.timeZone) };
    }
    due.push(t);
    if (due.length > CATCH_UP) {
      due.shift();
      skipped++;
    }
    t = nextLaunch(crons, t, p.timeZone);
  }
  // Many missed: only the newest one runs.
  return { due: skipped > 0 ? due.slice(-1) : due, next: t };
}
