// Shape of GET /v1/summary (core/api/summary.ts): counts the server makes of
// what the token may read, so the overview never fetches a list to count it.
export interface Counted {
  total: number;
  byStatus: Record<string, number>;
}

export interface Summary {
  jobs: Counted;
  nodes: Counted;
  allocations: Counted;
}
