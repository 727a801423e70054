// Reading `bun test` output for test/run.ts: the pass/fail counts, the
// failing tests' lines, and each file's wall time (bun prints a file's path
// followed by ":" on a line of its own before its tests). Pure.

const FILE_HEADER = /^(test\/\S+\.(?:test|spec)\.[cm]?[jt]sx?):$/;

/** The test file a header line names, or undefined. */
export function fileHeader(line: string): string | undefined {
  return FILE_HEADER.exec(line.trim())?.[1];
}

/** Sums the numbers of every "N pass" / "N fail" summary line. */
export function bunCounts(out: string): { passed: number; failed: number } {
  const sum = (re: RegExp) => [...out.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return { passed: sum(/^\s*(\d+) pass$/gm), failed: sum(/^\s*(\d+) fail$/gm) };
}

/** The "(fail) …" lines, in order. */
export function failLines(out: string): string[] {
  return out.split("\n").filter((l) => l.startsWith("(fail) "));
}

/**
 * Each file's seconds from the times its header was seen: a file runs from
 * its header to the next file's header (the last one to `endMs`).
 */
export function fileSeconds(headers: { file: string; atMs: number }[], endMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  headers.forEach((h, i) => {
    const until = headers[i + 1]?.atMs ?? endMs;
    out[h.file] = Math.round((until - h.atMs) / 100) / 10;
  });
  return out;
}
