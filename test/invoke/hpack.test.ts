// HPACK (plugins/invoke/h2/hpack.ts) against RFC 7541's Appendix C: every
// example block decoded in order on one decoder (requests and responses,
// plain and Huffman-coded), the dynamic table checked after each as the RFC
// lists it; the Huffman table against the RFC's hex codes; the encoder's
// blocks read back by the decoder; malformed blocks refused.
import { describe, expect, test } from "bun:test";
import { CODES, huffmanDecode, huffmanLength } from "../../plugins/invoke/h2/hpack-huffman.ts";
import { HpackDecoder, HpackEncoder, HpackError, type Field } from "../../plugins/invoke/h2/hpack.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

const REQ1: Field[] = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]];
const REQ2: Field[] = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: Field[] = [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]];
const RES1: Field[] = [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]];
const RES2: Field[] = [[":status", "307"], ...RES1.slice(1)];
const RES3: Field[] = [
  [":status", "200"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:22 GMT"], ["location", "https://www.example.com"],
  ["content-encoding", "gzip"], ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
];

/** [block, fields, table entries after it (newest first), table size]. */
type Step = [string, Field[], Field[], number];

const REQUESTS_PLAIN: Step[] = [
  ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", REQ1, [[":authority", "www.example.com"]], 57],
  ["8286 84be 5808 6e6f 2d63 6163 6865", REQ2, [["cache-control", "no-cache"], [":authority", "www.example.com"]], 110],
  ["8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", REQ3, [["custom-key", "custom-value"], ["cache-control", "no-cache"], [":authority", "www.example.com"]], 164],
];
const REQUESTS_HUFFMAN: Step[] = [
  ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", REQ1, REQUESTS_PLAIN[0]![2], 57],
  ["8286 84be 5886 a8eb 1064 9cbf", REQ2, REQUESTS_PLAIN[1]![2], 110],
  ["8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", REQ3, REQUESTS_PLAIN[2]![2], 164],
];
const RES3_TABLE: Field[] = [
  ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"], ["content-encoding", "gzip"], ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
];
const RESPONSES_PLAIN: Step[] = [
  [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    RES1, [["location", "https://www.example.com"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["cache-control", "private"], [":status", "302"]], 222,
  ],
  ["4803 3330 37c1 c0bf", RES2, [[":status", "307"], ["location", "https://www.example.com"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["cache-control", "private"]], 222],
  [
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    RES3, RES3_TABLE, 215,
  ],
];
const RESPONSES_HUFFMAN: Step[] = [
  [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    RES1, RESPONSES_PLAIN[0]![2], 222,
  ],
  ["4883 640e ffc1 c0bf", RES2, RESPONSES_PLAIN[1]![2], 222],
  [
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    RES3, RES3_TABLE, 215,
  ],
];

function run(steps: Step[], tableSize: number): void {
  const d = new HpackDecoder(tableSize);
  for (const [block, fields, entries, size] of steps) {
    expect(d.decode(hex(block))).toEqual(fields);
    expect(d.table.entries).toEqual(entries);
    expect(d.table.size).toBe(size);
  }
}

describe("RFC 7541 Appendix C", () => {
  test("C.2: literal with indexing, without indexing, never indexed, indexed", () => {
    const d = new HpackDecoder();
    expect(d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))).toEqual([["custom-key", "custom-header"]]);
    expect(d.table.size).toBe(55);
    const e = new HpackDecoder();
    expect(e.decode(hex("040c 2f73 616d 706c 652f 7061 7468"))).toEqual([[":path", "/sample/path"]]);
    expect(e.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))).toEqual([["password", "secret"]]);
    expect(e.decode(hex("82"))).toEqual([[":method", "GET"]]);
    expect(e.table.size).toBe(0);
  });
  test("C.3: requests without Huffman coding", () => run(REQUESTS_PLAIN, 4096));
  test("C.4: requests with Huffman coding", () => run(REQUESTS_HUFFMAN, 4096));
  test("C.5: responses without Huffman coding, a 256-octet table evicting", () => run(RESPONSES_PLAIN, 256));
  test("C.6: responses with Huffman coding, a 256-octet table evicting", () => run(RESPONSES_HUFFMAN, 256));
});

describe("Huffman code (Appendix B)", () => {
  test("codes rebuilt from the lengths match the RFC's hex column", () => {
    const rfc: [number, number, number][] = [[0, 0x1ff8, 13], [1, 0x7fffd8, 23], [10, 0x3ffffffc, 30], [32, 0x14, 6], [48, 0x0, 5], [97, 0x3, 5], [65, 0x21, 6], [126, 0x1ffd, 13], [128, 0xfffe6, 20], [200, 0x3ffffe2, 26], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30]];
    for (const [sym, code, len] of rfc) expect([sym, CODES[sym], huffmanLength(sym)]).toEqual([sym, code, len]);
  });
  test("the code is complete (Kraft sum 1) and prefix-free", () => {
    let sum = 0;
    for (let s = 0; s <= 256; s++) sum += 2 ** -huffmanLength(s);
    expect(sum).toBe(1);
  });
  test("bad padding and EOS are refused", () => {
    // "a" is 00011: padded with ones -> 0x1f; padded with zeros -> 0x18.
    expect(huffmanDecode(Uint8Array.of(0x1f), 0, 1)).toBe("a");
    expect(() => huffmanDecode(Uint8Array.of(0x18), 0, 1)).toThrow();
    // A whole byte of padding (8 ones) is too long.
    expect(() => huffmanDecode(Uint8Array.of(0x1f, 0xff), 0, 2)).toThrow();
    // EOS (30 ones) in the data.
    expect(() => huffmanDecode(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0, 4)).toThrow();
  });
});

describe("encoder", () => {
  test("its blocks decode to the same fields, byte for byte (latin1), and leave the peer's table empty", () => {
    const fields: Field[] = [
      [":status", "200"], [":method", "POST"], [":path", "/corral.test.Echo/Unary"], ["content-type", "application/grpc"],
      ["grpc-status", "0"], ["x-long", "v".repeat(300)], ["x-bytes", "caf\u00e9 \u00ff"], ["empty", ""], ["a".repeat(200), "b"],
    ];
    const d = new HpackDecoder();
    const block = new HpackEncoder().encode(fields);
    expect(d.decode(block)).toEqual(fields);
    expect(d.table.size).toBe(0);
    expect(block[0]).toBe(0x88); // :status 200 is static index 8
  });
});

describe("malformed and oversized blocks", () => {
  test("an index past the table, a truncated string, a late size update, an update over the limit: errors", () => {
    for (const b of ["ff00", "be", "4a05 6162", "82 3f e1 1f", "3f e2 1f"]) {
      expect(() => new HpackDecoder().decode(hex(b))).toThrow(HpackError);
    }
  });
  test("a header list past the bound is refused as too large, and the table stays in step", () => {
    const d = new HpackDecoder(4096, 100);
    const big = new HpackEncoder().encode([["x", "y".repeat(200)]]);
    let err: unknown;
    try {
      d.decode(big);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HpackError);
    expect((err as HpackError).tooLarge).toBe(true);
    expect(d.decode(hex("82"))).toEqual([[":method", "GET"]]);
  });
});
