// HPACK's Huffman code (RFC 7541 Appendix B), decoding side. The code is
// canonical: codes of one length are consecutive and ordered by symbol, so
// the bit length of each of the 257 symbols (0–255 and EOS) determines the
// whole table — the lengths below are the "len in bits" column of the RFC's
// table, and the codes are rebuilt from them (the tests check a few against
// the RFC's hex column and decode its Appendix C examples). Pure: no I/O.
//
// corral only decodes Huffman (clients and servers use it for their header
// values); it encodes its own header blocks as plain literals, which every
// decoder must accept.

// prettier-ignore
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32-47  ' ' ! " # $ % & ' ( ) * + , - . /
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48-63  0-9 : ; < = > ?
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64-79  @ A-O
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80-95  P-Z [ \ ] ^ _
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96-111 ` a-o
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112-127 p-z { | } ~ DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30, // EOS
];

export const EOS = 256;
const MAX_LEN = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where its symbols start in SYMBOLS. */
const FIRST = new Int32Array(MAX_LEN + 2);
const COUNT = new Int32Array(MAX_LEN + 2);
const OFFSET = new Int32Array(MAX_LEN + 2);
const SYMBOLS = new Uint16Array(257);
/** The code of each symbol (for the tests, and a check that the table is whole). */
export const CODES = new Uint32Array(257);

(function build() {
  for (const len of LENGTHS) COUNT[len]!++;
  let code = 0;
  let at = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    code = (code + COUNT[len - 1]!) << 1;
    if (len === 1) code = 0;
    FIRST[len] = code;
    OFFSET[len] = at;
    at += COUNT[len]!;
  }
  const next = Int32Array.from(OFFSET);
  for (let len = 1; len <= MAX_LEN; len++) {
    for (let sym = 0; sym < 257; sym++) if (LENGTHS[sym] === len) SYMBOLS[next[len]!++] = sym;
  }
  for (let len = 1; len <= MAX_LEN; len++) {
    for (let i = 0; i < COUNT[len]!; i++) CODES[SYMBOLS[OFFSET[len]! + i]!] = FIRST[len]! + i;
  }
})();

export function huffmanLength(sym: number): number {
  return LENGTHS[sym]!;
}

export class HuffmanError extends Error {}

/**
 * Decodes `src[from, to)` to a latin1 string (one char per octet). Fails on
 * EOS in the data, padding longer than 7 bits or not all ones (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, from: number, to: number): string {
  let out = "";
  let code = 0;
  let len = 0;
  /** Bits of the code in progress that are all ones (padding so far). */
  let ones = true;
  for (let i = from; i < to; i++) {
    const byte = src[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      code = (code << 1) | bit;
      len++;
      if (!bit) ones = false;
      const idx = code - FIRST[len]!;
      if (idx >= 0 && idx < COUNT[len]!) {
        const sym = SYMBOLS[OFFSET[len]! + idx]!;
        if (sym === EOS) throw new HuffmanError("EOS in a Huffman-coded string");
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
        ones = true;
      } else if (len >= MAX_LEN) throw new HuffmanError("bad Huffman code");
    }
  }
  if (len > 7 || !ones) throw new HuffmanError("bad Huffman padding");
  return out;
}
