// npx bun test/lincheck/cli.ts FILE [--max-steps N]
// Checks a JSON-lines history; prints one line per key and a JSON summary.
// Exit 0: linearizable; 1: not (or undecided); 2: usage or input error.
import { readFileSync } from "node:fs";
import { checkHistory } from "./check.ts";
import { parseLines } from "./history.ts";

function main(argv: string[]): number {
  const file = argv.find((a) => !a.startsWith("--"));
  const stepsArg = argv.indexOf("--max-steps");
  if (!file) {
    process.stderr.write("usage: bun test/lincheck/cli.ts FILE [--max-steps N]\n");
    return 2;
  }
  let events;
  try {
    events = parseLines(readFileSync(file, "utf8"));
  } catch (e) {
    process.stderr.write(`${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const started = performance.now();
  let res;
  try {
    res = checkHistory(events, stepsArg >= 0 ? { maxStepsPerKey: Number(argv[stepsArg + 1]) } : {});
  } catch (e) {
    process.stderr.write(`${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const ms = Math.round(performance.now() - started);
  for (const k of res.perKey) process.stdout.write(`key ${JSON.stringify(k.key)}: ${k.verdict} (${k.ops} ops, ${k.steps} steps)\n`);
  if (res.counterexample) process.stdout.write(`counterexample: ${JSON.stringify(res.counterexample, replacer, 2)}\n`);
  process.stdout.write(JSON.stringify({ ok: res.ok, keys: res.perKey.length, ops: res.perKey.reduce((n, k) => n + k.ops, 0), ms }) + "\n");
  return res.ok ? 0 : 1;
}

const replacer = (_k: string, v: unknown) => (v === Infinity ? "Infinity" : v);

process.exit(main(process.argv.slice(2)));
