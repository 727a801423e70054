// A JobDiff as text in Nomad's `job plan` style, pure:
//   +/- Job: "web"
//   +/- Task Group: "web" (1 create, 2 in-place update)
//     +/- Count: "2" => "3" (forces create)
//         Task: "server"
// "+" added, "-" deleted, "+/-" edited; unchanged groups and tasks are
// printed without a marker only when verbose (or when plan has updates for them).
import type { DiffType, FieldDiff, JobDiff, ObjectDiff, TaskGroupDiff } from "./job-diff.ts";

const MARK: Record<DiffType, string> = { Added: "+", Deleted: "-", Edited: "+/-", None: "" };

function mark(t: DiffType): string {
  const m = MARK[t];
  return m ? `${m} ` : "";
}

/** Markers are right-aligned in a 4-column gutter so names line up ("+/- ", "  + ", "    "). */
function line(indent: number, t: DiffType, body: string): string {
  const m = MARK[t];
  return " ".repeat(indent) + (m ? m.padStart(3) + " " : "    ") + body;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function fieldLine(f: FieldDiff, indent: number): string {
  const notes = f.Annotations?.length ? ` (${f.Annotations.join(", ")})` : "";
  const value = f.Type === "Added" ? quote(f.New) : f.Type === "Deleted" ? quote(f.Old) : `${quote(f.Old)} => ${quote(f.New)}`;
  return line(indent, f.Type, `${f.Name}: ${value}${notes}`);
}

function objectLines(o: ObjectDiff, indent: number, out: string[]): void {
  out.push(line(indent, o.Type, `${o.Name} {`));
  for (const f of o.Fields) out.push(fieldLine(f, indent + 2));
  for (const x of o.Objects) objectLines(x, indent + 2, out);
  out.push(" ".repeat(indent + 4) + "}");
}

/** Nomad's order of the per-group counts. */
const UPDATE_ORDER = ["create", "destroy", "migrate", "in-place update", "create/destroy update", "canary", "ignore"];
const rank = (k: string) => (UPDATE_ORDER.includes(k) ? UPDATE_ORDER.indexOf(k) : UPDATE_ORDER.length);

function updatesText(g: TaskGroupDiff): string {
  const parts = Object.entries(g.Updates ?? {}).filter(([, n]) => n > 0).sort(([a], [b]) => rank(a) - rank(b)).map(([k, n]) => `${n} ${k}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** The diff as lines; with verbose, unchanged groups and tasks are listed too. */
export function formatJobDiff(d: JobDiff, verbose = false): string[] {
  const out: string[] = [];
  out.push(`${mark(d.Type)}Job: ${quote(d.ID)}`);
  for (const f of d.Fields) out.push(fieldLine(f, 0));
  for (const o of d.Objects) objectLines(o, 0, out);
  for (const g of d.TaskGroups) {
    const interesting = g.Type !== "None" || updatesText(g) !== "" || verbose;
    if (!interesting) continue;
    out.push(`${mark(g.Type)}Task Group: ${quote(g.Name)}${updatesText(g)}`);
    for (const f of g.Fields) out.push(fieldLine(f, 2));
    for (const o of g.Objects) objectLines(o, 2, out);
    for (const t of g.Tasks) {
      const notes = t.Annotations?.length ? ` (${t.Annotations.join(", ")})` : "";
      out.push(line(2, t.Type, `Task: ${quote(t.Name)}${notes}`));
      for (const f of t.Fields) out.push(fieldLine(f, 4));
      for (const o of t.Objects) objectLines(o, 4, out);
    }
  }
  return out;
}
