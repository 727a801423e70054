// Reads a server-sent event stream (a fetch body or a ReadableStream) in the
// background and lets a test wait for what it expects.
import { SseParser, type SseMessage } from "../../core/monitor/sse.ts";

export interface StreamReader {
  messages: SseMessage[];
  /** Everything received, comments included. */
  raw: () => string;
  done: () => boolean;
  /** Waits until pred holds over the messages so far (or throws after timeoutMs). */
  until(pred: (msgs: SseMessage[]) => boolean, timeoutMs?: number): Promise<SseMessage[]>;
  cancel(): Promise<void>;
  /** Resolves when the stream ends (closed by the server or cut). */
  ended: Promise<void>;
}

export function readSse(body: ReadableStream<Uint8Array>): StreamReader {
  const messages: SseMessage[] = [];
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let raw = "";
  let finished = false;
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        raw += text;
        messages.push(...parser.push(text));
      }
    } catch {
      // cut: the connection died (kill -9) or the test cancelled
    } finally {
      finished = true;
    }
  })();
  return {
    messages,
    raw: () => raw,
    done: () => finished,
    ended,
    async until(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(messages)) {
        if (Date.now() > deadline) throw new Error(`stream condition not met within ${timeoutMs} ms; got ${messages.length} messages:\n${raw.slice(-2000)}`);
        if (finished && !pred(messages)) throw new Error(`stream ended before the condition was met; got:\n${raw.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return messages;
    },
    async cancel() {
      await reader.cancel().catch(() => undefined);
    },
  };
}

/** Opens GET url as an event stream. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<StreamReader & { status: number }> {
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers } });
  if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return Object.assign(readSse(res.body), { status: res.status });
}

/** The parsed data of id-carrying messages of `event` (all events when omitted). */
export function dataOf(msgs: SseMessage[], event?: string): any[] {
  return msgs.filter((m) => event === undefined || m.event === event).map((m) => JSON.parse(m.data));
}
