// Server-sent events (WHATWG HTML §9.2): the frames /v1/events writes and a
// parser for the client side (`corral monitor`, tests). Pure string work.
//
// Data is always one JSON line (JSON.stringify never emits a raw newline),
// so a frame is `id:` (optional), `event:`, `data:` and a blank line.

export interface SseMessage {
  /** The frame's `id:` field, when it had one. */
  id?: string;
  /** The `event:` field; "message" when absent (as EventSource does). */
  event: string;
  data: string;
}

export function sseFrame(msg: { id?: number; event: string; data: unknown }): string {
  const id = msg.id === undefined ? "" : `id: ${msg.id}\n`;
  return `${id}event: ${msg.event}\ndata: ${JSON.stringify(msg.data)}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies and idle timers from closing the connection. */
export function sseComment(text: string): string {
  return `: ${text.replace(/\n/g, " ")}\n\n`;
}

/** How long a browser's EventSource waits before reconnecting. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.round(ms))}\n\n`;
}

/** Incremental parser: feed decoded text as it arrives, get complete messages back. */
export class SseParser {
  private pending = "";
  private id: string | undefined;
  private event = "";
  private data: string[] = [];
  private hasId = false;

  push(chunk: string): SseMessage[] {
    this.pending += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const nl = this.pending.search(/\r\n|\r|\n/);
      if (nl === -1) break;
      const line = this.pending.slice(0, nl);
      const width = this.pending.startsWith("\r\n", nl) ? 2 : 1;
      this.pending = this.pending.slice(nl + width);
      const msg = this.line(line);
      if (msg) out.push(msg);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) {
      this.id = value;
      this.hasId = true;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const hadData = this.data.length > 0;
    const msg: SseMessage = { event: this.event || "message", data: this.data.join("\n") };
    if (this.hasId) msg.id = this.id;
    this.event = "";
    this.data = [];
    this.hasId = false;
    this.id = undefined;
    return hadData ? msg : undefined;
  }
}
