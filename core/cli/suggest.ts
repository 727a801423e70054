// "Did you mean": the closest known word to a mistyped one, by edit distance.
// Pure, no I/O. A suggestion is offered only when it is close enough to be a
// likely typo (at most a third of the word's letters wrong, at least one), so
// `corral frobnicate` gets no nonsense guess while `corral nodse` gets "nodes".

/** Damerau-Levenshtein (optimal string alignment) distance: insert, delete, substitute, swap two neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

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
  const limit = Math.max(1, Math.floor(w.length / 3));
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
