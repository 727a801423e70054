// Reads the runnable parts of a markdown document, for the docs tests: the
// fenced ```sh blocks (run) and the ```toml blocks introduced by a line
// naming a file ("`leader.toml`:", written to that file before the blocks
// after it run). Pure: no I/O.
//
// A block may be preceded by annotations, each an HTML comment on its own
// line (invisible on GitHub), directly above the fence:
//   <!-- doc-test: skip REASON -->         not run (npm install, a build, a whole suite)
//   <!-- doc-test: instead COMMAND -->     run COMMAND in place of a skipped block (`npm start` → `corral dev`);
//                                          several are run as lines of one script
//   <!-- doc-test: expect TEXT -->         the block's output must contain TEXT (repeatable)
//   <!-- doc-test: stop-servers -->        stop the nodes earlier blocks started, first
// Within a sh block, a line that starts a node (`corral dev|leader|agent`,
// `npx bun core/main.ts dev|…`) is started in the background, as "in another
// terminal", and the next line runs once the node printed its ready line.

export interface DocBlock {
  kind: "sh" | "file";
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** For kind "file": the file name the block is written to. */
  file?: string;
  skip?: string;
  instead?: string;
  expect: string[];
  stopServers: boolean;
}

const ANNOTATION = /^<!--\s*doc-test:\s*(skip|instead|expect|stop-servers)\b\s*(.*?)\s*-->\s*$/;

export function docBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split("\n");
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    const code = lines.slice(i + 1, end).join("\n");
    const lang = open[1]!;
    // Annotations: the comment lines right above the fence.
    const notes: { key: string; value: string }[] = [];
    for (let j = i - 1; j >= 0; j--) {
      const m = ANNOTATION.exec(lines[j]!.trim());
      if (!m) break;
      notes.unshift({ key: m[1]!, value: m[2]! });
    }
    const block: DocBlock = {
      kind: "sh", line: i + 1, code, expect: notes.filter((n) => n.key === "expect").map((n) => n.value.replace(/^"(.*)"$/, "$1")),
      stopServers: notes.some((n) => n.key === "stop-servers"),
    };
    const skip = notes.find((n) => n.key === "skip");
    if (skip) block.skip = skip.value || "annotated skip";
    const instead = notes.filter((n) => n.key === "instead");
    if (instead.length) block.instead = instead.map((n) => n.value).join("\n");
    if (lang === "sh" || lang === "bash" || lang === "shell") out.push(block);
    else if (lang === "toml") {
      // "`leader.toml`:" on the last non-empty line before the fence (and its annotations).
      let k = i - 1 - notes.length;
      while (k >= 0 && lines[k]!.trim() === "") k--;
      const named = k >= 0 ? /^`([\w.-]+\.toml)`:\s*$/.exec(lines[k]!.trim()) : null;
      if (named) out.push({ ...block, kind: "file", file: named[1]! });
    }
    i = end;
  }
  return out;
}

/** The ports a document names in its runnable blocks (77xx, corral's defaults and their neighbours). */
export function docPorts(blocks: DocBlock[]): number[] {
  const ports = new Set<number>();
  for (const b of blocks) for (const m of `${b.code}\n${b.instead ?? ""}`.matchAll(/\b(77\d\d)\b/g)) ports.add(Number(m[1]));
  return [...ports].sort();
}

/** Text with every named port replaced by its stand-in and `npx bun core/main.ts` by `corral`. */
export function substitute(text: string, ports: Map<number, number>): string {
  return text.replace(/\b(77\d\d)\b/g, (p) => String(ports.get(Number(p)) ?? p)).replace(/npx bun core\/main\.ts/g, "corral");
}

const SERVER = /^corral\s+(dev|leader|agent)\b/;

/**
 * A sh block as a bash script: server lines go to the background (their
 * output in .server-N.log, pid in .pids) and the script waits for their
 * ready line; every other line runs as written, under `set -e`.
 */
export function toScript(code: string, serverSeq: { n: number }): string {
  const out = ["set -e -o pipefail"];
  for (const raw of code.split("\n")) {
    const line = raw.trimEnd();
    if (SERVER.test(line.trim())) {
      const cmd = line.replace(/\s+#.*$/, "").trim();
      const log = `.server-${++serverSeq.n}.log`;
      out.push(
        `${cmd} > ${log} 2>&1 &`,
        `pid=$!; echo $pid >> .pids`,
        `for i in $(seq 1 300); do grep -q "ready: API at" ${log} && break; kill -0 $pid 2>/dev/null || { cat ${log}; echo "server exited: ${cmd}"; exit 1; }; sleep 0.1; done`,
        `grep -q "ready: API at" ${log} || { cat ${log}; echo "server not ready: ${cmd}"; exit 1; }`,
        // A plugin that failed to start (a port taken, say) fails the block: the doc would mislead.
        `if grep -q '"plugin failed to start"' ${log}; then grep '"plugin failed to start"' ${log}; exit 1; fi`,
        `grep -v '^{' ${log} || true`, // what a user sees on the terminal: the ready line (logs are JSON lines)
      );
    } else out.push(line);
  }
  return out.join("\n") + "\n";
}
