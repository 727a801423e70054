// The longest stretches a process's main thread ran without a break, and what
// ran in them, from a Bun CPU profile in Chrome's format (.cpuprofile: `bun
// --cpu-prof`, or `bench/scale.ts --profile DIR --profile-format json`).
// A profile's totals say where the CPU went; they cannot say whether it went
// in one 900 ms block (an election timeout missed, every held request late)
// or in a thousand 1 ms slices. Bun's sampler records nothing while the
// thread waits, so consecutive samples closer than a few sampling intervals
// are one busy stretch.
//   npx bun bench/profile-stretches.ts FILE.cpuprofile [--min-ms 50] [--top 15] [--frames 8]
import { readFileSync } from "node:fs";
import { numberFlag } from "./support/args.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file || file.startsWith("--")) {
  console.error("usage: npx bun bench/profile-stretches.ts FILE.cpuprofile [--min-ms 50] [--top 15] [--frames 8]");
  process.exit(2);
}
const MIN_MS = numberFlag("min-ms", 50);
const TOP = numberFlag("top", 15);
const FRAMES = numberFlag("frames", 8);

const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** The sample's stack, leaf first, as "function file:line" for code of ours or a package's (native frames say little). */
const stackCache = new Map<number, string[]>();
function stack(id: number): string[] {
  let s = stackCache.get(id);
  if (s) return s;
  s = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const f = byId.get(at)!.callFrame;
    if (/\.(ts|js)$/.test(f.url)) s.push(`${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(node_modules\/)?/, "")}:${f.lineNumber + 1}`);
  }
  stackCache.set(id, s);
  return s;
}

const times: number[] = [];
let t = p.startTime;
for (const d of p.timeDeltas) times.push((t += d));
const gaps = times.slice(1).map((v, i) => v - times[i]!).sort((a, b) => a - b);
const interval = gaps[Math.floor(gaps.length / 2)] ?? 1000;
const breakUs = interval * 3;

interface Stretch { start: number; end: number; from: number; to: number }
const stretches: Stretch[] = [];
let from = 0;
for (let i = 1; i <= times.length; i++) {
  if (i === times.length || times[i]! - times[i - 1]! > breakUs) {
    stretches.push({ start: times[from]!, end: times[i - 1]! + interval, from, to: i });
    from = i;
  }
}
const ms = (s: Stretch) => (s.end - s.start) / 1000;
const long = stretches.filter((s) => ms(s) >= MIN_MS).sort((a, b) => ms(b) - ms(a));
const busyMs = stretches.reduce((a, s) => a + ms(s), 0);
console.log(`${file}: ${((times.at(-1)! - p.startTime) / 1e6).toFixed(1)} s profiled, sampling every ${interval} us, busy ${(busyMs / 1000).toFixed(1)} s; ` +
  `${long.length} stretches of ${MIN_MS} ms or more (${(long.reduce((a, s) => a + ms(s), 0) / 1000).toFixed(1)} s)`);
for (const s of long.slice(0, TOP)) {
  // Inclusive samples per frame: the frames most of the stretch ran under.
  const counts = new Map<string, number>();
  for (let i = s.from; i < s.to; i++) for (const f of new Set(stack(p.samples[i]!))) counts.set(f, (counts.get(f) ?? 0) + 1);
  const n = s.to - s.from;
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, FRAMES).map(([f, c]) => `${Math.round((100 * c) / n)}% ${f}`);
  console.log(`\n+${((s.start - p.startTime) / 1e6).toFixed(2)} s  ${ms(s).toFixed(0)} ms  (${n} samples)\n  ${top.join("\n  ")}`);
}
