// Node meta: the operator's key/values about a node (rack, zone, owner) that
// constraints, spreads and task interpolation read as ${meta.<key>}.
//
// Two sources, as in Nomad 1.5+: `[node] meta` in the config file (static),
// and dynamic meta applied at run time (`corral node meta apply`, POST
// /v1/client/metadata). Dynamic meta wins over static; a dynamic null hides a
// static key (that is how `-unset` removes a key the config file set).
//
// Dynamic meta lives in the agent's own data dir (node-meta.json), as Nomad
// keeps it in the client's state: the agent is the source of truth for what
// it is, it survives the agent restarting (and the leaders losing the node),
// and the leaders learn it the way they learn every other fact of the node,
// through its registration (a RegisterNode entry in the log when it changed).
// No new log command, no new table: the leaders' view is the node row's meta.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** Keys are what ${meta.<key>} can name: letters, digits, "_", "." and "-". */
export const META_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-]*$/;
export const META_LIMITS = { keys: 64, keyChars: 128, valueChars: 512 } as const;

/** Why `key` cannot be a meta key, or null. (A zod record key's own error only says "Invalid key in record".) */
export function metaKeyProblem(key: string): string | null {
  if (key === "") return "a meta key must not be empty";
  if (key.length > META_LIMITS.keyChars) return `a meta key is at most ${META_LIMITS.keyChars} characters`;
  if (!META_KEY.test(key)) return `a meta key may contain letters, digits, "_", "." and "-", and must not start with "." or "-"`;
  return null;
}

function metaRecord<V extends z.ZodType>(value: V, what: string) {
  // zod's record drops a "__proto__" key without a word (assigning it sets a prototype): refuse it first.
  const noProto = z.unknown().superRefine((raw, ctx) => {
    if (raw !== null && typeof raw === "object" && Object.hasOwn(raw, "__proto__")) ctx.addIssue({ code: "custom", path: ["__proto__"], message: `"__proto__" is reserved` });
  });
  return noProto.pipe(z.record(z.string(), value)).superRefine((m, ctx) => {
    const keys = Object.keys(m);
    if (keys.length > META_LIMITS.keys) ctx.addIssue({ code: "custom", message: `at most ${META_LIMITS.keys} meta keys${what}` });
    for (const k of keys) {
      const problem = metaKeyProblem(k);
      if (problem) ctx.addIssue({ code: "custom", path: [k], message: problem });
    }
  });
}
// Control characters would turn into log-line and table injection; values are otherwise free text.
const metaValue = z
  .string()
  .max(META_LIMITS.valueChars, `a meta value is at most ${META_LIMITS.valueChars} characters`)
  .regex(/^[^\u0000-\u001f\u007f]*$/, "a meta value must not contain control characters");

/** `[node] meta` in the config file. */
export const staticMetaSchema = metaRecord(metaValue, "");

/** A change: key → value, or null to unset. */
export const metaPatchSchema = metaRecord(metaValue.nullable(), " in one change");
export type MetaPatch = z.infer<typeof metaPatchSchema>;

/** The meta the node registers with: static, then dynamic over it; nulls remove. */
export function effectiveMeta(staticMeta: Record<string, string>, dynamic: MetaPatch): Record<string, string> {
  const out: Record<string, string> = { ...staticMeta };
  for (const [k, v] of Object.entries(dynamic)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Dynamic meta after a change. A null is kept when it hides a static key, dropped otherwise. */
export function applyPatch(staticMeta: Record<string, string>, dynamic: MetaPatch, patch: MetaPatch): MetaPatch {
  const out: MetaPatch = { ...dynamic };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null && !(k in staticMeta)) delete out[k];
    else out[k] = v;
  }
  return out;
}

const FileSchema = z.object({ version: z.literal(1), meta: metaPatchSchema });
export const NODE_META_FILE = "node-meta.json";

/** The dynamic meta of this node, kept in its data dir. */
export class NodeMetaStore {
  private dynamic: MetaPatch = {};
  private readonly file: string;

  constructor(dataDir: string, private readonly staticMeta: Record<string, string>, warn: (msg: string, fields?: Record<string, unknown>) => void) {
    this.file = join(dataDir, NODE_META_FILE);
    if (!existsSync(this.file)) return;
    try {
      this.dynamic = FileSchema.parse(JSON.parse(readFileSync(this.file, "utf8"))).meta;
    } catch (err) {
      // Refusing to start over a bad file would keep the node out of the cluster; say so and start without it.
      warn("dynamic node meta file is unreadable: starting without it (the next apply rewrites it)", { file: this.file, err: (err as Error).message });
    }
  }

  /** What the node registers with. */
  effective(): Record<string, string> {
    return effectiveMeta(this.staticMeta, this.dynamic);
  }

  view(): { Meta: Record<string, string>; Dynamic: MetaPatch; Static: Record<string, string> } {
    return { Meta: this.effective(), Dynamic: { ...this.dynamic }, Static: { ...this.staticMeta } };
  }

  /** Applies a change and writes it to disk before answering (write to a temp file, then rename). */
  apply(patch: MetaPatch): void {
    const next = applyPatch(this.staticMeta, this.dynamic, patch);
    const total = Object.keys(effectiveMeta(this.staticMeta, next)).length;
    if (total > META_LIMITS.keys) throw new RangeError(`the node would have ${total} meta keys; at most ${META_LIMITS.keys}`);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, meta: next }, null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, this.file);
    this.dynamic = next;
  }
}
