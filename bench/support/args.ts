// Command-line options of the benchmarks: `--name value`, with a default.
// A value that is not what the option wants ends the run with a clear
// message (exit 2) rather than a benchmark of NaN.

const argv = process.argv.slice(2);

/** The value after `--name`, or `dflt` when the option is absent. */
export function stringFlag(name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) fail(`--${name} needs a value`);
  return v;
}

/** A numeric `--name` (finite, not negative), or `dflt`. */
export function numberFlag(name: string, dflt: number): number {
  const raw = stringFlag(name, String(dflt));
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0) fail(`--${name}: expected a number, got ${JSON.stringify(raw)}`);
  return n;
}

function fail(message: string): never {
  console.error(`${process.argv[1]?.split("/").pop() ?? "bench"}: ${message}`);
  process.exit(2);
}
