// Cron expressions for periodic jobs, pure (no clock: the caller passes "after").
//
// The grammar is the one Nomad accepts (github.com/hashicorp/cronexpr, a fork
// of gorhill/cronexpr), minus its rarely used L, W and # forms:
//
//   5 fields: minute hour day-of-month month day-of-week        (second 0, any year)
//   6 fields: minute hour day-of-month month day-of-week year   (second 0)
//   7 fields: second minute hour day-of-month month day-of-week year
//
// and the shortcuts @yearly (@annually), @monthly, @weekly, @daily
// (@midnight), @hourly. Each field takes `*`, `?` (day fields), numbers,
// ranges `a-b`, steps `*/n` `a/n` `a-b/n`, lists `a,b`, and month and weekday
// names (JAN–DEC, SUN–SAT; 7 is Sunday too). As in Vixie cron, when both day
// fields are restricted a day matching either one matches.
//
// Times are read in an IANA time zone through Intl (no tz library): the next
// time is found by walking the wall clock forwards, skipping whole days,
// hours and minutes that cannot match. A wall time that does not exist on a
// DST spring-forward day is skipped; one that occurs twice (autumn) matches
// at both occurrences, as the wall clock shows it twice.

export interface CronSchedule {
  /** The expression as written. */
  text: string;
  seconds: ReadonlySet<number>;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  daysOfWeek: ReadonlySet<number>;
  /** null: any year. */
  years: ReadonlySet<number> | null;
  domRestricted: boolean;
  dowRestricted: boolean;
}

export type CronParse = { ok: true; cron: CronSchedule } | { ok: false; error: string };

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const SHORTCUTS: Record<string, string> = {
  "@yearly": "0 0 0 1 1 * *",
  "@annually": "0 0 0 1 1 * *",
  "@monthly": "0 0 0 1 * * *",
  "@weekly": "0 0 0 * * 0 *",
  "@daily": "0 0 0 * * * *",
  "@midnight": "0 0 0 * * * *",
  "@hourly": "0 0 * * * * *",
};

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0] (1 for months). */
  nameBase?: number;
  question?: boolean;
}

const FIELDS: FieldSpec[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31, question: true },
  { name: "month", min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: "day of week", min: 0, max: 7, names: DAYS, nameBase: 0, question: true },
  { name: "year", min: 1970, max: 2099 },
];

/** Parse one expression; the error names the field and what is wrong with it. */
export function parseCron(text: string): CronParse {
  const trimmed = text.trim();
  if (trimmed.length > 256) return { ok: false, error: "cron expression is longer than 256 characters" };
  const expanded = SHORTCUTS[trimmed.toLowerCase()] ?? trimmed;
  if (expanded.startsWith("@")) return { ok: false, error: `unknown shortcut "${trimmed}" (have: ${Object.keys(SHORTCUTS).join(", ")})` };
  let parts = expanded.split(/\s+/).filter(Boolean);
  if (parts.length === 5) parts = ["0", ...parts, "*"];
  else if (parts.length === 6) parts = ["0", ...parts];
  else if (parts.length !== 7) {
    return { ok: false, error: `a cron expression has 5, 6 or 7 fields ([second] minute hour day-of-month month day-of-week [year]); "${trimmed}" has ${parts.length}` };
  }
  const sets: Set<number>[] = [];
  for (let i = 0; i < 7; i++) {
    const r = parseField(parts[i]!, FIELDS[i]!);
    if (typeof r === "string") return { ok: false, error: `${FIELDS[i]!.name} field "${parts[i]}": ${r}` };
    sets.push(r);
  }
  const dow = sets[5]!;
  if (dow.delete(7)) dow.add(0);
  const restricted = (p: string) => p !== "*" && p !== "?";
  return {
    ok: true,
    cron: {
      text: trimmed,
      seconds: sets[0]!, minutes: sets[1]!, hours: sets[2]!, daysOfMonth: sets[3]!, months: sets[4]!, daysOfWeek: dow,
      years: parts[6] === "*" ? null : sets[6]!,
      domRestricted: restricted(parts[3]!), dowRestricted: restricted(parts[5]!),
    },
  };
}

function parseField(text: string, f: FieldSpec): Set<number> | string {
  const out = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") return "empty list item";
    const [rangeText, stepText, extra] = item.split("/");
    if (extra !== undefined) return `"${item}" has more than one "/"`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) return `step "${stepText}" must be a whole number of at least 1`;
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (rangeText === "*" || (rangeText === "?" && f.question)) {
      lo = f.min;
      hi = f.name === "day of week" ? 6 : f.max;
    } else {
      const bounds = rangeText!.split("-");
      if (bounds.length > 2) return `"${rangeText}" is not a value or a range`;
      const a = value(bounds[0]!, f);
      if (typeof a === "string") return a;
      lo = a;
      if (bounds.length === 2) {
        const b = value(bounds[1]!, f);
        if (typeof b === "string") return b;
        hi = b;
        if (hi < lo) return `range ${rangeText} runs backwards`;
      } else hi = stepText !== undefined ? (f.name === "day of week" ? 6 : f.max) : lo; // "a/n" means from a to the end
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function value(text: string, f: FieldSpec): number | string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < f.min || n > f.max) return `${n} is outside ${f.min}-${f.max}`;
    return n;
  }
  const i = f.names?.indexOf(text.toUpperCase()) ?? -1;
  if (i >= 0) return i + (f.nameBase ?? 0);
  return `"${text}" is not a number${f.names ? " or a name" : ""}`;
}

/** Whether `zone` is an IANA time zone Intl knows (e.g. "UTC", "Europe/Berlin"). */
export function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  year: number; month: number; day: number; hour: number; minute: number; second: number; weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(ms: number, zone: string): Wall {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", weekday: "short",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    });
    formatters.set(zone, f);
  }
  const w: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, weekday: 0 };
  for (const p of f.formatToParts(ms)) {
    if (p.type === "weekday") w.weekday = DAYS.indexOf(p.value.slice(0, 3).toUpperCase());
    else if (p.type in w) (w as unknown as Record<string, number>)[p.type] = Number(p.value);
  }
  return w;
}

function dayMatches(c: CronSchedule, w: Wall): boolean {
  if (!c.months.has(w.month) || (c.years !== null && !c.years.has(w.year))) return false;
  const dom = c.daysOfMonth.has(w.day);
  const dow = c.daysOfWeek.has(w.weekday);
  if (c.domRestricted && c.dowRestricted) return dom || dow;
  return dom && dow;
}

/** Most wall-clock steps one search takes (a few years of non-matching days). */
const MAX_STEPS = 20_000;

/**
 * The first time strictly after `afterMs` (epoch ms) that matches, as epoch
 * ms on a whole second; null when none comes within the steps allowed (an
 * expression such as "0 0 30 2 *" never matches).
 */
export function nextCronTime(c: CronSchedule, afterMs: number, zone = "UTC"): number | null {
  let t = Math.floor(afterMs / 1000) + 1; // epoch seconds
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const w = wallClock(t * 1000, zone);
    if (c.years !== null && w.year > Math.max(...c.years)) return null;
    if (!dayMatches(c, w)) {
      t += 86_400 - (w.hour * 3600 + w.minute * 60 + w.second);
      continue;
    }
    if (!c.hours.has(w.hour)) {
      t += 3600 - (w.minute * 60 + w.second);
      continue;
    }
    if (!c.minutes.has(w.minute)) {
      t += 60 - w.second;
      continue;
    }
    let s = w.second;
    while (s < 60 && !c.seconds.has(s)) s++;
    if (s === 60) {
      t += 60 - w.second;
      continue;
    }
    return (t + (s - w.second)) * 1000;
  }
  return null;
}

/** The earliest next time over several expressions (a job's `crons`). */
export function nextLaunch(crons: readonly CronSchedule[], afterMs: number, zone = "UTC"): number | null {
  let best: number | null = null;
  for (const c of crons) {
    const t = nextCronTime(c, afterMs, zone);
    if (t !== null && (best === null || t < best)) best = t;
  }
  return best;
}
