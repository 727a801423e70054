// isPlainKVSet (core/state/plain-kv-set.ts) lets a KVSet skip the Command
// schema in RaftReplicator.propose. That is sound only if every command it
// accepts is one the schema accepts and returns unchanged: checked here
// against the schema itself, over the commands the KV routes build and
// thousands of generated ones around every bound; and the routes' own
// commands must take the cheap path (else it saves nothing).
import { describe, expect, test } from "bun:test";
import { Command } from "../../core/state/commands.ts";
import { isPlainKVSet } from "../../core/state/plain-kv-set.ts";
import { MAX_KV_VALUE_BYTES } from "../../core/state/domains/kv.ts";
import { mulberry32 } from "../sim/prng.ts";

const MAX_VALUE = Math.ceil(MAX_KV_VALUE_BYTES / 3) * 4;
const base = { type: "KVSet", v: 1, at: 1765000000000, key: "locks/a", value: "aGVsbG8=", flags: 0 };


const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const numbers = [0, 1, -1, 0.5, 2 ** 31, 2 ** 53 - 1, 2 ** 53, Number.NaN, Infinity, -Infinity, -0] as const;
const strings = ["", "a", "x".repeat(64), "x".repeat(65), "x".repeat(1024), "x".repeat(1025), "k/é/ü"] as const;
const anything = [...numbers, ...strings, undefined, null, true, [], {}, "1"] as const;

function generated(r: () => number): Record<string, unknown> {
  const c: Record<string, unknown> = { ...base };
  for (const k of ["type", "v", "at", "key", "value", "flags", "cas", "acquire", "release"]) {
    const roll = r();
    if (roll < 0.8) continue; // keep the base value (or absent)
    if (roll < 0.84) delete c[k];
    else if (roll < 0.94) c[k] = k === "key" || k === "value" || k === "acquire" || k === "release" ? pick(r, strings) : pick(r, numbers);
    else c[k] = pick(r, anything);
  }
  if (r() < 0.1) c["type"] = pick(r, ["KVDelete", "kvset", "Noop"]);
  if (r() < 0.1) c[pick(r, ["extra", "session", "__proto__x"])] = 1;
  return c;
}

/** What the schema returns, compared as the log stores it (JSON). */
function schemaKeepsItUnchanged(c: unknown): boolean {
  const out = Command.safeParse(c);
  return out.success && JSON.stringify(out.data) === JSON.stringify(c);
}

describe("isPlainKVSet", () => {
  test("the commands the KV routes and the lock writer build take the cheap path, and the schema agrees", () => {
    const built = [
      { ...base, cas: undefined },
      { ...base, flags: 42, cas: 7 },
      { ...base, cas: undefined, acquire: "5f3c1a2e-1111-2222-3333-444455556666", release: undefined },
      { ...base, cas: undefined, acquire: undefined, release: "5f3c1a2e-1111-2222-3333-444455556666" },
      { ...base, value: "", key: "x".repeat(1024) },
      { ...base, value: "A".repeat(MAX_VALUE) },
    ];
    for (const c of built) {
      expect(isPlainKVSet(c)).toBe(true);
      expect(schemaKeepsItUnchanged(c)).toBe(true);
    }
  });

  test("anything the schema would change or refuse goes to the schema", () => {
    const refused = [
      { ...base, flags: undefined }, // the schema's default would add flags
      { ...base, extra: 1 }, // the schema would strip it
      { ...base, key: "" },
      { ...base, key: "x".repeat(1025) },
      { ...base, value: "A".repeat(MAX_VALUE + 1) },
      { ...base, cas: -1 },
      { ...base, cas: 1.5 },
      { ...base, flags: 2 ** 53 },
      { ...base, at: Number.NaN },
      { ...base, at: Infinity },
      { ...base, acquire: "" },
      { ...base, release: "x".repeat(65) },
      { ...base, v: 2 },
      Object.assign(Object.create({ inherited: 1 }), base),
      null,
      [base],
      "KVSet",
    ];
    for (const c of refused) expect(isPlainKVSet(c)).toBe(false);
  });

  test("over 20,000 generated commands: accepted only where the schema accepts and keeps it unchanged", () => {
    const r = mulberry32(14).next; // the same cases every run
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const c = generated(r);
      if (!isPlainKVSet(c)) continue;
      accepted++;
      if (!schemaKeepsItUnchanged(c)) throw new Error(`accepted, but the schema refuses or changes it: ${JSON.stringify(c)}`);
    }
    // The generator must reach the accepting side often enough for this to mean something.
    expect(accepted).toBeGreaterThan(1000);
  });
});
