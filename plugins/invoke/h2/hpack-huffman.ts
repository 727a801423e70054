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

// Decoding four bits at a time: a state is an inner node of the code tree;
// for each state and nibble, the state reached and the symbol completed on
// the way, if any (codes are 5 bits or more, so at most one per nibble).
const INNER = 256;
const NEXT = new Uint16Array(INNER * 16);
/** The symbol completed, -1 none, -2 EOS (an error in data). */
const EMIT = new Int16Array(INNER * 16);
/** A state whose path from the root is all ones and at most 7 bits: valid padding to end on. */
const PAD_OK = new Uint8Array(INNER);

(function buildFsm() {
  // The tree: children of inner node i at [2i] (bit 0) and [2i+1] (bit 1); >= 0 inner index, < 0 leaf -(sym+1).
  const child = new Int32Array(INNER * 2).fill(0x7fffffff);
  let inner = 1;
  for (let sym = 0; sym < 257; sym++) {
    const len = LENGTHS[sym]!;
    const code = CODES[sym]!;
    let node = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = (code >>> b) & 1;
      const slot = node * 2 + bit;
      if (b === 0) child[slot] = -(sym + 1);
      else {
        if (child[slot] === 0x7fffffff) child[slot] = inner++;
        node = child[slot]!;
      }
    }
  }
  // Padding states: from the root along 1-bits, up to 7 deep.
  let node = 0;
  PAD_OK[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = child[node * 2 + 1]!;
    PAD_OK[node] = 1;
  }
  for (let state = 0; state < INNER; state++) {
    for (let nib = 0; nib < 16; nib++) {
      let n = state;
      let emit = -1;
      for (let b = 3; b >= 0; b--) {
        const c = child[n * 2 + ((nib >>> b) & 1)]!;
        if (c >= 0) n = c;
        else {
          const sym = -c - 1;
          emit = sym === EOS ? -2 : sym;
          n = 0;
        }
      }
      NEXT[state * 16 + nib] = n;
      EMIT[state * 16 + nib] = emit;
    }
  }
})();

/**
 * Decodes `src[from, to)` to a latin1 string (one char per octet). Fails on
 * EOS in the data, padding longer than 7 bits or not all ones (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, from: number, to: number): string {
  let out = "";
  let state = 0;
  for (let i = from; i < to; i++) {
    const byte = src[i]!;
    let t = state * 16 + (byte >>> 4);
    let e = EMIT[t]!;
    if (e >= 0) out += String.fromCharCode(e);
    else if (e === -2) throw new HuffmanError("EOS in a Huffman-coded string");
    state = NEXT[t]!;
    t = state * 16 + (byte & 15);
    e = EMIT[t]!;
    if (e >= 0) out += String.fromCharCode(e);
    else if (e === -2) throw new HuffmanError("EOS in a Huffman-coded string");
    state = NEXT[t]!;
  }
  if (!PAD_OK[state]) throw new HuffmanError("bad Huffman padding");
  return out;
}
