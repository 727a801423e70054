// What a list's filter box sends the server. Pure.
//
// A plain word is a name prefix (?prefix=, matched in SQL: cheap at any
// size); text with an operator is a filter expression (?filter=, the
// go-bexpr subset of docs/api.md#lists), which the server matches against
// each item it scans.

const EXPRESSION = /==|!=|\s(contains|matches|in|is)\s|^not\s|\sand\s|\sor\s/;

export function isExpression(text: string): boolean {
  return EXPRESSION.test(text.trim());
}

/** How a list narrows by plain text: a name prefix, unless the list says otherwise (allocations: ?job=). */
export type PlainQuery = (text: string) => Record<string, string>;
export const byPrefix: PlainQuery = (t) => ({ prefix: t });

/** The query parameters for the box's text: none, the list's plain query, or { filter }. */
export function filterQuery(text: string, plain: PlainQuery = byPrefix): Record<string, string> {
  const t = text.trim();
  if (!t) return {};
  return isExpression(t) ? { filter: t } : plain(t);
}
