// "Did you mean": the closest known words to a mistyped one, by edit
// distance (the config loader's, core/config/introspect.ts). Pure, no I/O. A
// suggestion is offered only when it is close enough to be a likely typo (two
// edits, one for words of one or two letters), so `corral frobnicate` gets no
// nonsense guess while `corral nodse` gets "nodes".
import { editDistance } from "../config/introspect.ts";

export { editDistance };

/**
 * The candidates closest to `word` (ties all returned, in the given order),
 * or [] when none is a plausible typo. A candidate that starts with `word`
 * (an abbreviation such as "oper" for "operator") also counts.
 */
export function suggest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  if (!w) return [];
  const prefixed = candidates.filter((c) => w.length >= 2 && c.startsWith(w));
  if (prefixed.length) return prefixed;
  const limit = w.length <= 2 ? 1 : 2;
  let best = Infinity;
  let out: string[] = [];
  for (const c of new Set(candidates)) {
    const dist = editDistance(w, c);
    if (dist > limit) continue;
    if (dist < best) [best, out] = [dist, [c]];
    else if (dist === best) out.push(c);
  }
  return out;
}

/** ' (did you mean "x"?)' / ' (did you mean "x" or "y"?)', or "" when there is no suggestion. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const s = suggest(word, candidates);
  if (!s.length) return "";
  const quoted = s.slice(0, 3).map((c) => `"${c}"`);
  return ` (did you mean ${quoted.length > 1 ? quoted.slice(0, -1).join(", ") + " or " + quoted.at(-1) : quoted[0]}?)`;
}
