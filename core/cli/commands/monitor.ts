// `corral monitor [--topic node,kv] [--index N] [--json]`: follows the
// event stream (GET /v1/events) and prints one line per event. When the
// connection drops (the node restarts, a leader is killed) it reconnects
// with Last-Event-ID, so no event is lost or printed twice; a stream that
// stays silent past three keepalive periods counts as dropped.
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { ClientError } from "../client.ts";
import { SseParser, type SseMessage } from "../../monitor/sse.ts";
import { DEFAULT_KEEPALIVE_MS } from "../../monitor/event-hub.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { formatDuration } from "../../config/duration.ts";

export const monitorSpec: CommandSpec = {
  name: "monitor",
  summary: "Follow the cluster's event stream.",
  usage: "corral monitor [--topic node,kv] [--index N] [--json]",
  flags: {
    ...clientFlags,
    json: { type: "boolean", help: "Print each event as one JSON line" },
    topic: { type: "list", value: "TOPICS", help: "Only these topics (node, service, check, leader, plugin, job, allocation, kv); repeatable or comma-separated" },
    index: { type: "number", value: "N", help: "Start with the events after log index N (default: from now)" },
    "max-events": { type: "number", value: "N", help: "Exit after N events (scripts)" },
  },
  details: "Reconnects with Last-Event-ID when the connection drops; `event: reset` means re-read the state.",
};

const RECONNECT_MAX_MS = 10_000;
const SILENCE_LIMIT_MS = 3 * DEFAULT_KEEPALIVE_MS;

interface Printed {
  index?: number;
  topic: string;
  type: string;
  at: number;
  payload: Record<string, unknown>;
}

/** One human line: time, index, topic, type and the payload as key=value. */
export function humanLine(e: Printed): string {
  const fields = Object.entries(e.payload ?? {})
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const at = new Date(e.at).toISOString().replace(/\.\d+Z$/, "Z");
  return `${at}  ${e.index === undefined ? "-" : "#" + e.index}  ${e.topic.padEnd(7)} ${e.type}${fields ? "  " + fields : ""}`;
}

export async function monitor(args: Parsed): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const client = clientFrom(args);
  const token = (args.flags.token as string | undefined) ?? process.env.CORRAL_TOKEN;
  const topics = (args.flags.topic as string[] | undefined) ?? [];
  const maxEvents = args.flags["max-events"] as number | undefined;
  let lastId = args.flags.index === undefined ? undefined : String(args.flags.index);
  let printed = 0;
  let failures = 0;
  for (;;) {
    const q = new URLSearchParams();
    if (topics.length) q.set("topic", topics.join(","));
    if (lastId !== undefined) q.set("index", lastId);
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (lastId !== undefined) headers["last-event-id"] = lastId;
    if (token) headers["x-consul-token"] = token;
    const connected = () => (failures = 0);
    const done = await follow(`${client.base}/v1/events${q.size ? "?" + q : ""}`, headers, connected, (m) => {
      if (m.id !== undefined) lastId = m.id;
      const e = JSON.parse(m.data) as Printed;
      process.stdout.write((args.flags.json ? JSON.stringify(e) : humanLine(e)) + "\n");
      printed++;
      return maxEvents !== undefined && printed >= maxEvents;
    });
    if (done) return 0;
    const waitMs = Math.min(RECONNECT_MAX_MS, 250 * 2 ** Math.min(failures++, 6));
    process.stderr.write(`corral monitor: stream closed; reconnecting in ${formatDuration(waitMs)}${lastId ? ` after index ${lastId}` : ""}\n`);
    await new Promise((r) => setTimeout(r, waitMs));
  }
}

/**
 * Reads one connection until it ends. Returns true when `onMessage` asked to
 * stop. A refusal (4xx) throws: retrying would not help.
 */
async function follow(
  url: string,
  headers: Record<string, string>,
  onConnected: () => void,
  onMessage: (m: SseMessage) => boolean,
): Promise<boolean> {
  const abort = new AbortController();
  let silence: ReturnType<typeof setTimeout> | undefined;
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(() => abort.abort(), SILENCE_LIMIT_MS);
  };
  try {
    heard();
    const res = await fetch(url, { headers, signal: abort.signal });
    if (res.status >= 400 && res.status < 500 && res.status !== 429) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
      throw new ClientError(res.status, body.code ?? `HTTP_${res.status}`, body.error ?? res.statusText);
    }
    if (!res.ok || !res.body) return false;
    onConnected();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      heard();
      for (const m of parser.push(decoder.decode(chunk, { stream: true }))) if (onMessage(m)) return true;
    }
    return false;
  } catch (err) {
    if (err instanceof ClientError) throw err;
    return false; // refused, reset or silent: reconnect
  } finally {
    clearTimeout(silence);
    abort.abort();
  }
}
