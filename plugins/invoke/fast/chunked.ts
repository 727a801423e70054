// The chunked transfer coding (RFC 9112 §7.1) as a byte-level state machine.
// The proxy passes chunked bodies on unchanged; it decodes only to know where
// a message ends (so the connection can carry the next one) and, for
// HTTP/1.0 clients, to hand them the bare data.
//
// Strict on purpose (a lenient parser in a proxy is how requests get
// smuggled): CRLF line ends only, hex sizes of at most 15 digits, bounded
// extension and trailer lines.

// States (plain numbers: no enum in this codebase).
const S = { Size: 0, SizeMore: 1, Ext: 2, SizeLf: 3, Data: 4, DataCr: 5, DataLf: 6, TrailerStart: 7, TrailerLine: 8, TrailerLf: 9, EndLf: 10, Done: 11 } as const;
type State = (typeof S)[keyof typeof S];

/** A line (size + extensions, or one trailer field) longer than this is refused. */
export const MAX_CHUNK_LINE = 4096;
/** All trailer fields together. */
export const MAX_TRAILER_BYTES = 16 * 1024;

export class ChunkedError extends Error {}

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  const l = b | 32;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

export class ChunkedDecoder {
  private s: State = S.Size;
  private size = 0;
  private digits = 0;
  private line = 0;
  private trailer = 0;

  get done(): boolean {
    return this.s === S.Done;
  }

  /**
   * Consumes buf[start, end). `onData(from, to)` gets the data ranges (chunk
   * contents without framing). Returns the index just past the message's
   * last byte, or -1 when it needs more. Throws ChunkedError when malformed.
   */
  push(buf: Uint8Array, start: number, end: number, onData?: (from: number, to: number) => void): number {
    let i = start;
    while (i < end) {
      if (this.s === S.Data) {
        const n = Math.min(this.size, end - i);
        if (onData && n > 0) onData(i, i + n);
        i += n;
        this.size -= n;
        if (this.size === 0) this.s = S.DataCr;
        continue;
      }
      this.step(buf[i]!);
      i++;
      if (this.s === S.Done) return i;
    }
    return -1;
  }

  private step(b: number): void {
    switch (this.s) {
      case S.Size: {
        const v = hexValue(b);
        if (v < 0) throw new ChunkedError("chunk size expected");
        this.size = v;
        this.digits = 1;
        this.line = 1;
        this.s = S.SizeMore;
        return;
      }
      case S.SizeMore: {
        const v = hexValue(b);
        if (v >= 0) {
          if (++this.digits > 15) throw new ChunkedError("chunk size too large");
          this.size = this.size * 16 + v;
        } else if (b === 0x3b || b === 0x20 || b === 0x09) this.s = S.Ext; // ";" or BWS before it
        else if (b === 0x0d) this.s = S.SizeLf;
        else throw new ChunkedError("bad chunk size");
        this.line++;
        return;
      }
      case S.Ext:
        if (b === 0x0d) this.s = S.SizeLf;
        else if (b === 0x0a || ++this.line > MAX_CHUNK_LINE) throw new ChunkedError("bad chunk extension");
        return;
      case S.SizeLf:
        if (b !== 0x0a) throw new ChunkedError("CRLF expected after the chunk size");
        this.s = this.size === 0 ? S.TrailerStart : S.Data;
        return;
      case S.DataCr:
        if (b !== 0x0d) throw new ChunkedError("CRLF expected after chunk data");
        this.s = S.DataLf;
        return;
      case S.DataLf:
        if (b !== 0x0a) throw new ChunkedError("CRLF expected after chunk data");
        this.s = S.Size;
        return;
      case S.TrailerStart:
        if (b === 0x0d) this.s = S.EndLf;
        else if (b === 0x0a) throw new ChunkedError("bad trailer");
        else this.trailerByte(S.TrailerLine);
        return;
      case S.TrailerLine:
        if (b === 0x0d) this.s = S.TrailerLf;
        else if (b === 0x0a) throw new ChunkedError("bad trailer");
        else this.trailerByte(S.TrailerLine);
        return;
      case S.TrailerLf:
        if (b !== 0x0a) throw new ChunkedError("CRLF expected after a trailer field");
        this.s = S.TrailerStart;
        return;
      case S.EndLf:
        if (b !== 0x0a) throw new ChunkedError("CRLF expected at the end of the chunked body");
        this.s = S.Done;
        return;
      default:
        throw new ChunkedError("data after the end of the chunked body");
    }
  }

  private trailerByte(next: State): void {
    if (++this.trailer > MAX_TRAILER_BYTES) throw new ChunkedError("trailer fields too large");
    this.s = next;
  }
}
