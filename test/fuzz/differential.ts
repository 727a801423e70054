// The differential oracle: an anonymous request must get the same answer
// from a populated node as from an empty one (test/fuzz/twins.ts) — same
// status, same data-bearing headers, same body. Whatever differs was told by
// the hidden data. Pure: answers in, differences out.
//
// What "the same" allows, and why:
//  - the node's own port and data dir are replaced by placeholders (the twins
//    share name, node id and secret, but not those), so are the IDs each twin
//    gave the narrow token and its policy (`aliases`), and ISO timestamps by
//    "<time>" (each twin made its tokens at its own time);
//  - live facts of the host, which two processes sampling the same machine a
//    few ms apart see differently, are masked in JSON bodies by key
//    (LIVE_KEYS: a node's CPU/memory sample and metric points, its disk's free
//    bytes, heartbeat and status-change times): they are the machine's, not
//    the cluster's state;
//  - Date, Content-Length (the body is compared instead), Connection,
//    Keep-Alive and Transfer-Encoding are transport, not data;
//  - X-Consul-LastContact is timing: only its presence is compared;
//  - index headers (X-Consul-Index, X-Corral-Index): only their presence is
//    compared across the twins, because an index may legitimately say how far
//    the cluster's log has gone (the applied index — it grows with every
//    write anyone makes, like a clock). What it must never say is *when a
//    hidden thing last changed*: on the populated twin, an index strictly
//    between the baseline (its applied index before the first hidden write)
//    and the fence (its applied index after one more write made after all of
//    them) can only be the modify index of a hidden write, and is reported.
//    Values at or after the fence are the log position; at or before the
//    baseline, the bootstrap's and the shared things'. The same rule holds
//    for index fields in JSON bodies ("CreateIndex", "ModifyIndex", ...: the
//    twins' logs need not line up entry for entry, so their values are not
//    compared either, only checked against the window).
export interface Observed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface NodeFacts {
  port: number;
  dataDir: string;
  /** Values that legitimately differ between the twins (a token's accessor), each with its placeholder. */
  aliases?: Record<string, string>;
}

export interface IndexWindow {
  /** Applied index before the first hidden write. */
  baseline: number;
  /** Applied index after the fence write. */
  fence: number;
}

const TRANSPORT = new Set(["date", "content-length", "connection", "keep-alive", "transfer-encoding"]);
const PRESENCE_ONLY = new Set(["x-consul-lastcontact", "x-consul-index", "x-corral-index"]);
export const INDEX_HEADERS = ["x-consul-index", "x-corral-index"];
const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g;
/** Keys whose values are live host facts (see the header comment), masked before bodies are compared. */
export const LIVE_KEYS = /^(sample|latest|points|since|statusChangedAt|healthChangedAt|lastHeartbeatAt|diskBytes|unique\.storage\.bytesfree)$/;

function maskLive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskLive);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, LIVE_KEYS.test(k) ? "<live>" : maskLive(x)]));
  return v;
}

/** The body with live host facts masked, when it is JSON; as it is otherwise. */
function withoutLiveFacts(body: string): string {
  if (!/^\s*[[{]/.test(body)) return body;
  try {
    return JSON.stringify(maskLive(JSON.parse(body)));
  } catch {
    return body;
  }
}

/** "CreateIndex":12, "ModifyIndex": 12, "LockIndex":0, "index":3 ... in a JSON body. */
const BODY_INDEX = /"(\w*[Ii]ndex)"\s*:\s*(\d+)/g;

export function headersOf(h: Headers | Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of h) out[k.toLowerCase()] = v;
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The answer with what legitimately differs between the twins replaced by placeholders. */
export function normalize(a: Observed, node: NodeFacts): Observed {
  const text = (s: string) =>
    Object.entries(node.aliases ?? {}).reduce((acc, [value, placeholder]) => (value ? acc.split(value).join(placeholder) : acc), s)
      .replace(new RegExp(escapeRe(node.dataDir), "g"), "<data-dir>")
      .replace(new RegExp(`(?<![0-9])${node.port}(?![0-9])`, "g"), "<port>")
      .replace(ISO_TIME, "<time>");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.headers)) {
    if (TRANSPORT.has(k)) continue;
    headers[k] = PRESENCE_ONLY.has(k) ? "<present>" : text(v);
  }
  return { status: a.status, headers, body: withoutLiveFacts(text(a.body)).replace(BODY_INDEX, '"$1":"<index>"') };
}

function clip(s: string, n = 160): string {
  return JSON.stringify(s.length > n ? s.slice(0, n) + "…" : s);
}

/**
 * What an anonymous answer from the populated twin tells that the empty
 * twin's does not: status, headers, body, and hidden writes' indexes.
 * Empty when the two agree.
 */
export function differences(populated: Observed, empty: Observed, facts: { populated: NodeFacts; empty: NodeFacts; window: IndexWindow; secrets?: string[] }): string[] {
  const out: string[] = [];
  for (const h of INDEX_HEADERS) {
    const v = Number(populated.headers[h]);
    if (populated.headers[h] !== undefined && v > facts.window.baseline && v < facts.window.fence) {
      out.push(`${h} ${v} is the index of a hidden write (hidden writes are ${facts.window.baseline + 1}..${facts.window.fence - 1})`);
    }
  }
  const hidden = (v: number) => v > facts.window.baseline && v < facts.window.fence;
  for (const m of populated.body.matchAll(BODY_INDEX)) {
    if (hidden(Number(m[2]))) out.push(`body field ${m[1]} ${m[2]} is the index of a hidden write (hidden writes are ${facts.window.baseline + 1}..${facts.window.fence - 1})`);
  }
  for (const s of facts.secrets ?? []) {
    if (populated.body.includes(s) && !empty.body.includes(s)) out.push(`the body carries the hidden value ${JSON.stringify(s)}`);
    for (const [k, v] of Object.entries(populated.headers)) if (v.includes(s)) out.push(`header ${k} carries the hidden value ${JSON.stringify(s)}`);
  }
  const p = normalize(populated, facts.populated);
  const e = normalize(empty, facts.empty);
  if (p.status !== e.status) out.push(`status ${p.status} (empty node: ${e.status})`);
  for (const k of new Set([...Object.keys(p.headers), ...Object.keys(e.headers)])) {
    if (p.headers[k] !== e.headers[k]) out.push(`header ${k}: ${p.headers[k] === undefined ? "absent" : clip(p.headers[k]!, 60)} (empty node: ${e.headers[k] === undefined ? "absent" : clip(e.headers[k]!, 60)})`);
  }
  if (p.body !== e.body) out.push(`body ${clip(p.body)} (empty node: ${clip(e.body)})`);
  return out;
}
