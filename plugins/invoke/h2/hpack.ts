// HPACK (RFC 7541) for the h2 relay: a decoder with its per-connection
// dynamic table, and a stateless encoder. Names and values are latin1
// strings (one char per octet), so a field goes through decode and encode
// byte for byte. Pure: no I/O.
//
// The encoder never adds to the peer's dynamic table: it sends exact
// static-table matches as indexes and everything else as literals without
// indexing, not Huffman-coded. That costs a few bytes per field and keeps
// the encoder free of state (nothing to keep in step per connection, nothing
// to get wrong when a header block is abandoned), and every decoder accepts it.
import { huffmanDecode } from "./hpack-huffman.ts";

/** A header field: [name, value], latin1. */
export type Field = [name: string, value: string];

// prettier-ignore
export const STATIC_TABLE: readonly Field[] = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""],
];

/** The size the RFC counts for an entry (§4.1): octets of name and value plus 32. */
const entrySize = (name: string, value: string): number => name.length + value.length + 32;

export class HpackError extends Error {
  constructor(
    message: string,
    /** The header list was over the bound (a 431 for the stream), not malformed (a connection error). */
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

export class HpackDecoder {
  /** Newest first (index 62 is dynamic[0]). */
  private dynamic: Field[] = [];
  private size = 0;
  /** The current limit, set by the encoder's size updates, at most `maxTableSize`. */
  private limit: number;

  constructor(
    /** SETTINGS_HEADER_TABLE_SIZE as we announced it (4096 unless we said otherwise). */
    private readonly maxTableSize = 4096,
    /** Bound on a decoded header list, counted as SETTINGS_MAX_HEADER_LIST_SIZE is (octets + 32 per field). */
    private readonly maxListSize = 64 * 1024,
  ) {
    this.limit = maxTableSize;
  }

  // Decoding state of the block in progress (fields, not closures: this runs per request).
  private b: Uint8Array = new Uint8Array(0);
  private p = 0;

  /** The fields of one complete header block. A throw is a COMPRESSION_ERROR for the connection, unless `tooLarge`. */
  decode(block: Uint8Array): Field[] {
    const out: Field[] = [];
    let listSize = 0;
    let tooLarge = false;
    this.b = block;
    this.p = 0;
    const end = block.byteLength;
    let fieldsSeen = false;
    while (this.p < end) {
      const b = block[this.p]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        const e = this.entry(this.int(7));
        name = e[0];
        value = e[1];
      } else if (b & 0x40) {
        const idx = this.int(6);
        name = idx ? this.entry(idx)[0] : this.str();
        value = this.str();
        this.add(name, value);
      } else if (b & 0x20) {
        // A dynamic table size update: only at the start of a block (§4.2).
        if (fieldsSeen) throw new HpackError("table size update after a field");
        const n = this.int(5);
        if (n > this.maxTableSize) throw new HpackError("table size update over the limit");
        this.limit = n;
        this.evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): 4-bit prefix.
        const idx = this.int(4);
        name = idx ? this.entry(idx)[0] : this.str();
        value = this.str();
      }
      fieldsSeen = true;
      listSize += name.length + value.length + 32;
      // Past the bound the block is still decoded to the end: the dynamic table must stay in step.
      if (listSize > this.maxListSize) tooLarge = true;
      else out.push([name, value]);
    }
    if (tooLarge) throw new HpackError(`header list larger than ${this.maxListSize} bytes`, true);
    return out;
  }

  private int(prefixBits: number): number {
    const block = this.b;
    const max = (1 << prefixBits) - 1;
    let v = block[this.p++]! & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      if (this.p >= block.byteLength) throw new HpackError("truncated integer");
      const b = block[this.p++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
      if (shift > 28) throw new HpackError("integer too large");
    }
    return v;
  }

  private str(): string {
    const block = this.b;
    if (this.p >= block.byteLength) throw new HpackError("truncated string");
    const huff = (block[this.p]! & 0x80) !== 0;
    const n = this.int(7);
    const from = this.p;
    if (from + n > block.byteLength) throw new HpackError("truncated string");
    this.p += n;
    return huff ? huffmanDecode(block, from, from + n) : latin1(block, from, from + n);
  }

  /** For the tests (RFC 7541 Appendix C lists the table after each block). */
  get table(): { entries: readonly Field[]; size: number } {
    return { entries: this.dynamic, size: this.size };
  }

  private entry(idx: number): Field {
    if (idx >= 1 && idx <= STATIC_TABLE.length) return STATIC_TABLE[idx - 1]!;
    const d = this.dynamic[idx - STATIC_TABLE.length - 1];
    if (!d) throw new HpackError(`no header table entry ${idx}`);
    return d;
  }

  private add(name: string, value: string): void {
    const n = entrySize(name, value);
    this.evict(n);
    // An entry larger than the table empties it and is not added (§4.4).
    if (n > this.limit) return;
    this.dynamic.unshift([name, value]);
    this.size += n;
  }

  /** Drops the oldest entries until `room` more octets fit under the limit. */
  private evict(room: number): void {
    while (this.size + room > this.limit && this.dynamic.length) {
      const e = this.dynamic.pop()!;
      this.size -= entrySize(e[0], e[1]);
    }
  }
}

function latin1(b: Uint8Array, from: number, to: number): string {
  // Short strings: a char loop beats both fromCharCode.apply and a Buffer's toString (a native call).
  if (to - from <= 64) {
    let s = "";
    for (let i = from; i < to; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return Buffer.from(b.buffer, b.byteOffset + from, to - from).toString("latin1");
}

/** Static-table indexes: "name\0value" for exact matches, name for the first entry of that name. */
const EXACT = new Map<string, number>();
const BY_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([n, v], i) => {
  if (v) EXACT.set(n + "\0" + v, i + 1);
  if (!BY_NAME.has(n)) BY_NAME.set(n, i + 1);
});

/** Grows as needed; one per relay (encoding is synchronous, the bytes are copied out). */
export class HpackEncoder {
  private buf = new Uint8Array(4096);
  private p = 0;

  /** The header block for `fields`: a view of the encoder's buffer, valid until its next call (the caller copies it out). */
  encode(fields: readonly Field[]): Uint8Array {
    this.p = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const name = f[0];
      const value = f[1];
      // Exact static matches are all pseudo-headers but one (accept-encoding: gzip, deflate).
      const exact = name.charCodeAt(0) === 58 ? EXACT.get(name + "\0" + value) : undefined;
      if (exact !== undefined) {
        this.room(5);
        this.int(exact, 7, 0x80);
        continue;
      }
      const idx = BY_NAME.get(name);
      this.room(10 + name.length + value.length);
      if (idx !== undefined) this.int(idx, 4, 0x00);
      else {
        this.buf[this.p++] = 0x00;
        this.str(name);
      }
      this.str(value);
    }
    return this.buf.subarray(0, this.p);
  }

  private room(n: number): void {
    if (this.p + n <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.p + n));
    next.set(this.buf.subarray(0, this.p));
    this.buf = next;
  }

  private int(v: number, prefixBits: number, flags: number): void {
    const max = (1 << prefixBits) - 1;
    if (v < max) {
      this.buf[this.p++] = flags | v;
      return;
    }
    this.buf[this.p++] = flags | max;
    v -= max;
    while (v >= 0x80) {
      this.buf[this.p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.p++] = v;
  }

  private str(s: string): void {
    this.int(s.length, 7, 0x00);
    const n = s.length;
    const b = this.buf;
    let p = this.p;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.p = p;
  }
}
