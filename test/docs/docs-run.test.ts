// Docs that run (issue 20, point 10): every shell block of README.md and
// docs/tutorial.md is executed against fresh nodes (test/docs/run-doc.ts:
// temporary folder, free ports, `corral` on PATH), in order, and must exit
// 0 and print what its doc-test annotations expect. A block that must not
// run says why in an annotation (doc-blocks.ts); a change that breaks a
// documented command fails here.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/proc.ts";
import { docBlocks, substitute } from "./doc-blocks.ts";
import { runDoc } from "./run-doc.ts";

// The two documents share nothing (each has its own temporary folder, its own
// free ports and its own nodes), and most of a run is waiting on the nodes it
// starts: both start together, and each test checks its own document's run.
const DOCS = ["docs/tutorial.md", "README.md"] as const;
let started: Map<string, ReturnType<typeof runDoc>> | undefined;
function docRun(rel: string): ReturnType<typeof runDoc> {
  started ??= new Map(DOCS.map((d) => {
    const run = runDoc(join(ROOT, d));
    run.catch(() => {}); // awaited (and its failure reported) by the document's own test
    return [d, run] as const;
  }));
  return started.get(rel)!;
}

async function expectDocRuns(rel: string): Promise<void> {
  const { runs, ports } = await docRun(rel);
  const total = docBlocks(readFileSync(join(ROOT, rel), "utf8")).length;
  for (const r of runs) {
    const where = `${rel}:${r.block.line}`;
    if (r.skipped !== undefined) {
      expect({ where, reason: r.skipped.length > 0 }).toEqual({ where, reason: true });
      continue;
    }
    expect({ where, code: r.code, output: r.code === 0 ? "" : r.output }).toEqual({ where, code: 0, output: "" });
    for (const e of r.block.expect) expect({ where, output: r.output }).toEqual({ where, output: expect.stringContaining(substitute(e, ports)) });
  }
  expect(runs.length).toBe(total); // none left unrun after a failure
}

describe("docs that run", () => {
  test("docs/tutorial.md: your first cluster", () => expectDocRuns("docs/tutorial.md"), 300_000);
  test("README.md", () => expectDocRuns("README.md"), 300_000);
});
