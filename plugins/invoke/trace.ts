// W3C Trace Context (https://www.w3.org/TR/trace-context/) for one hop.
//
// A valid incoming `traceparent` keeps its trace id and flags and gets a new
// parent id: corral is a hop of its own, so the backend sees corral's span as
// its parent (what a tracing proxy does). A missing or invalid one is
// replaced by a new trace, sampled (flags 01). `tracestate` passes unchanged.
//
// With a span recorder set (OTLP export on, spans.ts), each traceparent made
// here is also the start of that hop's span: the ids are kept as `pending`
// and the call loop claims them when the call starts (Invoker's Call.start,
// the one place every front goes through, right after it built the
// traceparent in the same synchronous step). Without a recorder nothing is
// kept: the hot path is as before.
//
// Random ids come from a pooled crypto buffer, so a call costs no syscall.
// The raw-socket listener writes a new traceparent straight into the head it
// sends (writeNext): no string per call.
import type { SpanStart } from "./spans.ts";

/** Where writeNext puts a traceparent: the bytes of a head being written (fast/head-bytes.ts). */
export interface TraceSink {
  text(s: string, bytes?: Buffer): void;
  copy(src: Buffer, start: number, end: number): void;
}

const POOL_BYTES = 4096;

export class TraceIds {
  private pool = new Uint8Array(POOL_BYTES);
  /** The pool as lowercase hex (ASCII bytes), encoded once per refill: an id is then a slice or a copy of it. */
  private hexPool = Buffer.alloc(POOL_BYTES * 2);
  private at = POOL_BYTES;

  /** Set when spans are recorded (OTLP export on): next() then leaves the hop's ids here for the call to claim. */
  recording = false;
  private pending: SpanStart | undefined;

  constructor(private readonly fill: (buf: Uint8Array) => void = (b) => void crypto.getRandomValues(b)) {}

  /** The ids of the traceparent next() made last, once: undefined when none is waiting or recording is off. */
  claim(): SpanStart | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p;
  }

  /** `bytes` random bytes as lowercase hex; never all zeros (invalid in trace context). */
  hex(bytes: number): string {
    const at = this.take(bytes);
    return this.hexPool.toString("latin1", at, at + bytes * 2);
  }

  /** Where in hexPool the next id of `bytes` random bytes starts (its hex is twice as long); never all zeros. */
  private take(bytes: number): number {
    for (;;) {
      if (this.at + bytes > POOL_BYTES) {
        this.fill(this.pool);
        const hex = this.hexPool;
        for (let i = 0; i < POOL_BYTES; i++) {
          const b = this.pool[i]!;
          hex[2 * i] = HEX_DIGITS[b >> 4]!;
          hex[2 * i + 1] = HEX_DIGITS[b & 15]!;
        }
        this.at = 0;
      }
      const from = this.at;
      this.at += bytes;
      for (let i = from; i < from + bytes; i++) if (this.pool[i] !== 0) return from * 2;
    }
  }

  /**
   * next(incoming) written to `out` (a head's bytes). A new trace, the
   * common case, is copied from the hex pool: no string is made.
   */
  writeNext(incoming: string | null, out: TraceSink): void {
    if (incoming !== null || this.recording) return out.text(this.next(incoming));
    const span = this.take(8);
    const trace = this.take(16);
    out.text("00-", V00);
    out.copy(this.hexPool, trace, trace + 32);
    out.text("-", DASH);
    out.copy(this.hexPool, span, span + 16);
    out.text("-01", FLAGS01);
  }

  /** The traceparent to send upstream for an incoming one (or null). */
  next(incoming: string | null): string {
    const span = this.hex(8);
    if (incoming !== null && isValidTraceparent(incoming)) {
      const v = incoming.trim().toLowerCase();
      // version 00 layout: 00-<trace 32>-<parent 16>-<flags 2>
      const flags = v.slice(53, 55);
      if (this.recording) this.keep(v.slice(3, 35), span, v.slice(36, 52), flags);
      return `00-${v.slice(3, 35)}-${span}-${flags}`;
    }
    const trace = this.hex(16);
    if (this.recording) this.keep(trace, span, "", "01");
    return `00-${trace}-${span}-01`;
  }

  /** A sampled hop's span start (flag bit 0: the caller asked for it to be recorded). */
  private keep(traceId: string, spanId: string, parentSpanId: string, flags: string): void {
    this.pending = (parseInt(flags, 16) & 1) === 1 ? { traceId, spanId, parentSpanId, startMs: performance.timeOrigin + performance.now() } : undefined;
  }
}

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
const V00 = Buffer.from("00-", "latin1");
const DASH = Buffer.from("-", "latin1");
const FLAGS01 = Buffer.from("-01", "latin1");
const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Version ff is forbidden; all-zero ids are invalid; version 00 has no suffix. */
export function isValidTraceparent(value: string): boolean {
  const m = TRACEPARENT_RE.exec(value.trim().toLowerCase());
  if (!m) return false;
  const [, version, trace, parent, , rest] = m;
  if (version === "ff") return false;
  if (version === "00" && rest !== undefined) return false;
  return !/^0+$/.test(trace!) && !/^0+$/.test(parent!);
}
