// The anti-entropy digest cache (plugins/discovery/digest.ts) under node
// churn: a catalog change drops every cached digest, so nodes that are gone
// for good (they never ask again) do not keep theirs.
import { expect, test } from "bun:test";
import { CatalogDigests } from "../../plugins/discovery/digest.ts";
import type { StateReader } from "../../core/sdk/index.ts";

test("digests of nodes that stopped asking go with the next catalog change", () => {
  let index = 1;
  let reads = 0;
  const state = {
    tableIndex: () => index,
    catalog: { registrations: () => (reads++, { node: undefined, services: [], checks: [] }) },
  } as unknown as StateReader;
  const d = new CatalogDigests(state);
  for (let i = 0; i < 1000; i++) d.get(`gone-${i}`);
  expect(d.size()).toBe(1000);
  d.get("gone-0");
  expect(reads).toBe(1000); // unchanged catalog: answered from memory
  index = 2; // a registration somewhere
  d.get("alive");
  expect(d.size()).toBe(1);
  expect(d.get("alive").digest).toMatch(/^[0-9a-f]{64}$/);
  expect(reads).toBe(1001);
});
