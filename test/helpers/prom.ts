// Prometheus text for tests: a small parser and `promtool check metrics`
// (skipped, with the reason printed, where promtool is not installed; .ci/run
// installs Debian's prometheus package, which ships it).
import { spawnSync } from "node:child_process";

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of `name` whose labels include `labels`. */
export function find(samples: PromSample[], name: string, labels: Record<string, string> = {}): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

export function value(samples: PromSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return find(samples, name, labels)[0]?.value;
}

const promtoolPath = (() => {
  const r = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();

/** Runs `promtool check metrics` on text; { skipped } when promtool is absent. */
export function promtoolCheck(text: string): { skipped?: string; ok: boolean; output: string } {
  if (!promtoolPath) {
    const skipped = "promtool not found on PATH (install Debian's prometheus package); skipping `promtool check metrics`";
    console.log(skipped);
    return { skipped, ok: true, output: "" };
  }
  const r = spawnSync(promtoolPath, ["check", "metrics"], { input: text, encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
