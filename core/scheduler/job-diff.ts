// Field-level diff of two job versions, pure (Nomad's nomad/structs/diff.go,
// in its JSON shape: JobDiff → TaskGroups → Tasks, each with Fields and
// nested Objects). Used by `job plan` (the document against the running
// version) and `job history -p` / `GET /v1/job/{id}/versions?diffs=true`
// (each version against the one before).
//
// Leaves are compared as strings (as Nomad prints them); objects nest under
// their key, arrays of objects under "key[i]" (constraints, checks), and
// arrays of scalars are one field per element ("Args[1]"). Groups and tasks
// are matched by name, so a renamed task shows as one deleted and one added.
import type { Job, Task, TaskGroup } from "./jobspec/types.ts";
import { tasksUpdated } from "./update-kind.ts";

export type DiffType = "None" | "Added" | "Deleted" | "Edited";

export interface FieldDiff {
  Type: DiffType;
  Name: string;
  Old: string;
  New: string;
  Annotations?: string[];
}

export interface ObjectDiff {
  Type: DiffType;
  Name: string;
  Fields: FieldDiff[];
  Objects: ObjectDiff[];
}

export interface TaskDiff extends ObjectDiff {
  /** "forces create/destroy update" when the change replaces the group's allocations. */
  Annotations?: string[];
}

export interface TaskGroupDiff extends ObjectDiff {
  Tasks: TaskDiff[];
  /** What `job plan` will do to the group's allocations ("create", "in-place update", ...), with counts. */
  Updates?: Record<string, number>;
}

export interface JobDiff {
  Type: DiffType;
  ID: string;
  Fields: FieldDiff[];
  Objects: ObjectDiff[];
  TaskGroups: TaskGroupDiff[];
}

type Plain = Record<string, unknown>;
const isObject = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || v === undefined || typeof v !== "object";
const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));

/** Nomad spells fields in PascalCase ("MaxParallel"); corral's keys are camelCase. */
function fieldName(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

function kindOf(oldPresent: boolean, newPresent: boolean, changed: boolean): DiffType {
  if (!oldPresent && newPresent) return "Added";
  if (oldPresent && !newPresent) return "Deleted";
  return changed ? "Edited" : "None";
}

/** The differing fields and nested objects of two plain values (either may be absent). */
function diffBody(oldV: Plain | undefined, newV: Plain | undefined, skip: ReadonlySet<string> = new Set()): { fields: FieldDiff[]; objects: ObjectDiff[] } {
  const fields: FieldDiff[] = [];
  const objects: ObjectDiff[] = [];
  const keys = [...new Set([...Object.keys(oldV ?? {}), ...Object.keys(newV ?? {})])].filter((k) => !skip.has(k)).sort();
  for (const k of keys) {
    const o = oldV?.[k];
    const n = newV?.[k];
    const name = fieldName(k);
    if (Array.isArray(o) || Array.isArray(n)) {
      const oa = (Array.isArray(o) ? o : []) as unknown[];
      const na = (Array.isArray(n) ? n : []) as unknown[];
      for (let i = 0; i < Math.max(oa.length, na.length); i++) {
        const item = `${name}[${i}]`;
        if (isScalar(oa[i]) && isScalar(na[i])) pushField(fields, item, i < oa.length, i < na.length, oa[i], na[i]);
        else pushObject(objects, item, i < oa.length ? oa[i] : undefined, i < na.length ? na[i] : undefined);
      }
    } else if (isObject(o) || isObject(n)) {
      pushObject(objects, name, o, n);
    } else {
      pushField(fields, name, o !== undefined, n !== undefined, o, n);
    }
  }
  return { fields, objects };
}

function pushField(out: FieldDiff[], name: string, had: boolean, has: boolean, o: unknown, n: unknown): void {
  const t = kindOf(had, has, text(o) !== text(n));
  if (t !== "None") out.push({ Type: t, Name: name, Old: had ? text(o) : "", New: has ? text(n) : "" });
}

function pushObject(out: ObjectDiff[], name: string, o: unknown, n: unknown): void {
  const d = diffObject(name, isObject(o) ? o : undefined, isObject(n) ? n : undefined);
  if (d.Type !== "None") out.push(d);
}

function diffObject(name: string, o: Plain | undefined, n: Plain | undefined): ObjectDiff {
  const { fields, objects } = diffBody(o, n);
  const changed = fields.length > 0 || objects.length > 0;
  return { Type: kindOf(o !== undefined, n !== undefined, changed), Name: name, Fields: fields, Objects: objects };
}

function diffTask(o: Task | undefined, n: Task | undefined, destructive: boolean): TaskDiff {
  const d = diffObject((n ?? o)!.name, o as Plain | undefined, n as Plain | undefined);
  d.Fields = d.Fields.filter((f) => f.Name !== "Name");
  const out: TaskDiff = d;
  if (d.Type !== "None" && destructive) out.Annotations = ["forces create/destroy update"];
  return out;
}

function diffGroup(o: TaskGroup | undefined, n: TaskGroup | undefined): TaskGroupDiff {
  const { fields, objects } = diffBody(o as Plain | undefined, n as Plain | undefined, new Set(["tasks", "name"]));
  // Annotate as Nomad does: a count change creates or destroys allocations; a task change replaces them.
  for (const f of fields) if (f.Name === "Count" && f.Type === "Edited") f.Annotations = [Number(f.New) > Number(f.Old) ? "forces create" : "forces destroy"];
  const destructive = o !== undefined && n !== undefined && tasksUpdated(o, n) !== null;
  const names = [...new Set([...(o?.tasks ?? []).map((t) => t.name), ...(n?.tasks ?? []).map((t) => t.name)])];
  const tasks = names
    .map((name) => diffTask(o?.tasks.find((t) => t.name === name), n?.tasks.find((t) => t.name === name), destructive))
    .filter((t) => t.Type !== "None");
  const changed = fields.length > 0 || objects.length > 0 || tasks.length > 0;
  return { Type: kindOf(o !== undefined, n !== undefined, changed), Name: (n ?? o)!.name, Fields: fields, Objects: objects, Tasks: tasks };
}

/**
 * The diff from `old` (undefined: the job is new) to `next`. Groups that did
 * not change are listed with Type "None" (plan annotates them with what
 * happens to their allocations, which may still be something).
 */
export function diffJobs(old: Job | undefined, next: Job): JobDiff {
  const { fields, objects } = diffBody(old as Plain | undefined, next as unknown as Plain, new Set(["groups", "id"]));
  const names = [...new Set([...(old?.groups ?? []).map((g) => g.name), ...next.groups.map((g) => g.name)])];
  const groups = names.map((name) => diffGroup(old?.groups.find((g) => g.name === name), next.groups.find((g) => g.name === name)));
  const changed = fields.length > 0 || objects.length > 0 || groups.some((g) => g.Type !== "None");
  return { Type: kindOf(old !== undefined, true, changed), ID: next.id, Fields: fields, Objects: objects, TaskGroups: groups };
}
