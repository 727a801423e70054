// JSON with object keys sorted, so equal content gives equal text whatever
// order its keys were written in. Used wherever two values are compared or
// hashed as text: config reload diffs, job spec changes, catalog digests.
// One definition: digests computed by different releases must agree.

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
