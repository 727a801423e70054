// The regular expressions of job constraints (`operator = "regexp"`), run by
// RE2 (re2js): matching time is linear in the input, whatever the pattern.
// A JavaScript RegExp backtracks: `(a+)+$` against forty a's and a "!" runs
// for minutes on the leader's event loop, freezing the whole cluster. RE2 is
// also what Nomad uses (Go's regexp), so patterns mean what they mean there.
//
// Pure: no I/O. Loaded statically (~10 ms) because constraints are compiled
// synchronously inside an evaluation.
import { RE2JS } from "re2js";

/** Longest pattern a constraint may hold (characters). */
export const MAX_CONSTRAINT_REGEX_CHARS = 1024;
/**
 * Largest compiled program (RE2 instructions). Matching is O(input × program);
 * this bounds one match on a node attribute to a few milliseconds. The same
 * bound as `?filter=` regexes (plugins/discovery/filter.ts).
 */
export const MAX_CONSTRAINT_REGEX_PROGRAM = 500;

export type CompiledRegex = { ok: true; test: (text: string) => boolean } | { ok: false; error: string };

/** Compiles `pattern` (RE2 syntax), or says why it is refused. Never throws. */
export function compileRegex(pattern: string): CompiledRegex {
  if (pattern.length > MAX_CONSTRAINT_REGEX_CHARS) return { ok: false, error: `regular expression longer than ${MAX_CONSTRAINT_REGEX_CHARS} characters` };
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const why = String((err as Error)?.message ?? err).replace(/^error parsing regexp: /, "");
    return { ok: false, error: `invalid regular expression (RE2 syntax): ${why}` };
  }
  const size = (re.re2() as unknown as { prog?: { numInst?: () => number } }).prog?.numInst?.() ?? 0;
  if (size > MAX_CONSTRAINT_REGEX_PROGRAM) {
    return { ok: false, error: `regular expression too complex (${size} instructions compiled, at most ${MAX_CONSTRAINT_REGEX_PROGRAM})` };
  }
  // find(): unanchored, as RegExp.test and Go's MatchString.
  return { ok: true, test: (text) => re.matcher(text).find() };
}
